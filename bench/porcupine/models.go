package main

// Sequential models for the conformance corpus, written from the semantics in
// shared/conformance/FORMAT.md. Every input/output/state type here is a plain
// comparable value, so porcupine's default == equality works on states.

import (
	"github.com/anishathalye/porcupine"
)

// ---------------------------------------------------------------------------
// Single register (etcd-cas-register and knossos cas-register)

// RegVal is a register value that may be nil (absent).
type RegVal struct {
	Set bool // false = nil
	V   int64
}

var nilVal = RegVal{}

func intVal(v int64) RegVal { return RegVal{Set: true, V: v} }

type regOpKind uint8

const (
	regRead regOpKind = iota
	regWrite
	regCas
)

// RegIn is the input of a register operation.
type RegIn struct {
	Op   regOpKind
	V    RegVal // write argument
	A, B RegVal // cas expected / new
}

// RegOut is the output of a register operation.
type RegOut struct {
	Unknown bool   // outcome unknown (crashed / timed out)
	V       RegVal // value returned by a read
	CasOK   bool   // cas reported success (false = compare failed)
}

var unknownRegOut = RegOut{Unknown: true}

// registerModel builds the single-register model. With nilReadWildcard, a read
// that returned nil is legal in any state (knossos semantics); otherwise nil is
// an ordinary value that must equal the state (etcd "key absent").
func registerModel(init RegVal, nilReadWildcard bool) porcupine.Model {
	return porcupine.Model{
		Init: func() interface{} { return init },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			st := state.(RegVal)
			in := input.(RegIn)
			out := output.(RegOut)
			switch in.Op {
			case regRead:
				if out.Unknown || (nilReadWildcard && !out.V.Set) {
					return true, st
				}
				return out.V == st, st
			case regWrite:
				return true, in.V
			case regCas:
				matches := st == in.A
				switch {
				case out.Unknown:
					if matches {
						return true, in.B
					}
					return true, st
				case out.CasOK:
					if matches {
						return true, in.B
					}
					return false, st
				default: // compare failed
					return !matches, st
				}
			}
			panic("unknown register op")
		},
		Hash: func(state interface{}) uint64 {
			st := state.(RegVal)
			if !st.Set {
				return 0x9e3779b97f4a7c15
			}
			return mix64(uint64(st.V))
		},
	}
}

// ---------------------------------------------------------------------------
// kv-append, partitioned by key

type kvOpKind uint8

const (
	kvGet kvOpKind = iota
	kvPut
	kvAppend
)

// KvIn is the input of a kv operation.
type KvIn struct {
	Op    kvOpKind
	Key   string
	Value string // put/append argument
}

// KvOut is the output of a kv operation (only meaningful for get).
type KvOut struct {
	Value string
}

func kvModel() porcupine.Model {
	return porcupine.Model{
		PartitionEvent: func(history []porcupine.Event) [][]porcupine.Event {
			keyOf := make(map[int]string)
			var order []string
			parts := make(map[string][]porcupine.Event)
			for _, ev := range history {
				var key string
				if ev.Kind == porcupine.CallEvent {
					key = ev.Value.(KvIn).Key
					keyOf[ev.Id] = key
				} else {
					key = keyOf[ev.Id]
				}
				if _, seen := parts[key]; !seen {
					order = append(order, key)
				}
				parts[key] = append(parts[key], ev)
			}
			out := make([][]porcupine.Event, 0, len(order))
			for _, k := range order {
				out = append(out, parts[k])
			}
			return out
		},
		// Per-partition state: the string stored under that key.
		Init: func() interface{} { return "" },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			st := state.(string)
			in := input.(KvIn)
			switch in.Op {
			case kvGet:
				return output.(KvOut).Value == st, st
			case kvPut:
				return true, in.Value
			case kvAppend:
				return true, st + in.Value
			}
			panic("unknown kv op")
		},
		Hash: func(state interface{}) uint64 { return fnv64(state.(string)) },
	}
}

// ---------------------------------------------------------------------------
// multi-register (knossos), keys mapped to small indices at parse time

const maxRegKeys = 8

// MultiState holds one integer per register key.
type MultiState [maxRegKeys]int64

// MicroOp is one [:read K V] / [:write K V] element of a txn.
type MicroOp struct {
	Write bool
	Key   int
	V     RegVal // nil read = wildcard
}

// MultiIn is a txn's micro-ops: the completion's ops for an :ok txn, the
// invocation's ops for a crashed one.
type MultiIn struct {
	Ops []MicroOp
}

func multiRegisterModel(init MultiState) porcupine.Model {
	return porcupine.Model{
		Init: func() interface{} { return init },
		Step: func(state, input, output interface{}) (bool, interface{}) {
			st := state.(MultiState)
			in := input.(*MultiIn)
			for _, m := range in.Ops {
				if m.Write {
					if !m.V.Set {
						panic("multi-register write of nil")
					}
					st[m.Key] = m.V.V
				} else if m.V.Set && st[m.Key] != m.V.V {
					// A crashed txn only carries its invocation's values,
					// whose reads are nil, so no unknown-outcome txn can
					// reach this point.
					return false, state
				}
			}
			return true, st
		},
		Hash: func(state interface{}) uint64 {
			st := state.(MultiState)
			var h uint64 = 0xcbf29ce484222325
			for _, v := range st {
				h = mix64(h ^ uint64(v))
			}
			return h
		},
	}
}

// ---------------------------------------------------------------------------
// mutex (knossos)

// MutexIn is true for acquire, false for release.
type MutexIn struct {
	Acquire bool
}

// MutexOut says whether the operation's outcome is unknown (crashed).
type MutexOut struct {
	Unknown bool
}

func mutexModel() porcupine.Model {
	return porcupine.Model{
		Init: func() interface{} { return false }, // unlocked
		Step: func(state, input, output interface{}) (bool, interface{}) {
			locked := state.(bool)
			in := input.(MutexIn)
			out := output.(MutexOut)
			legal := in.Acquire != locked
			if legal {
				return true, in.Acquire
			}
			// a crashed illegal op is simply not applied
			return out.Unknown, locked
		},
		Hash: func(state interface{}) uint64 {
			if state.(bool) {
				return 1
			}
			return 2
		},
	}
}

// ---------------------------------------------------------------------------

func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func fnv64(s string) uint64 {
	var h uint64 = 0xcbf29ce484222325
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return h
}
