package main

// Parsers for the three history formats of shared/conformance/FORMAT.md.
// Each one turns a file into a porcupine event list in file order; operations
// with an unknown outcome get their return event appended after every other
// event ("return at +infinity").

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// historyBuilder assigns operation ids and keeps the event list.
type historyBuilder struct {
	events []porcupine.Event
	nextID int
}

func (h *historyBuilder) call(client int, input interface{}) int {
	id := h.nextID
	h.nextID++
	h.events = append(h.events, porcupine.Event{ClientId: client, Kind: porcupine.CallEvent, Value: input, Id: id})
	return id
}

func (h *historyBuilder) ret(client int, id int, output interface{}) {
	h.events = append(h.events, porcupine.Event{ClientId: client, Kind: porcupine.ReturnEvent, Value: output, Id: id})
}

// ---------------------------------------------------------------------------
// Format A: Jepsen etcd console log

type etcdOpen struct {
	id int
	in RegIn
}

func parseEtcdValue(s string) (RegVal, error) {
	if s == "nil" {
		return nilVal, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nilVal, fmt.Errorf("bad value %q", s)
	}
	return intVal(n), nil
}

func parseEtcdPair(s string) (RegVal, RegVal, error) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nilVal, nilVal, fmt.Errorf("bad cas argument %q", s)
	}
	parts := strings.Fields(s[1 : len(s)-1])
	if len(parts) != 2 {
		return nilVal, nilVal, fmt.Errorf("bad cas argument %q", s)
	}
	a, err := parseEtcdValue(parts[0])
	if err != nil {
		return nilVal, nilVal, err
	}
	b, err := parseEtcdValue(parts[1])
	return a, b, err
}

// ParseEtcdLog parses Format A (porcupine/jepsen/etcd_NNN.log).
func ParseEtcdLog(path string) ([]porcupine.Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h := &historyBuilder{}
	open := make(map[int]etcdOpen)
	var openOrder []int // processes in invocation order, for the final returns
	for lineNo, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		bad := func(format string, args ...interface{}) error {
			return fmt.Errorf("%s:%d: %s: %q", path, lineNo+1, fmt.Sprintf(format, args...), line)
		}
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != "INFO" || f[1] != "jepsen.util" || f[2] != "-" {
			return nil, bad("unrecognised line")
		}
		proc, err := strconv.Atoi(f[3])
		if err != nil || proc < 0 {
			return nil, bad("bad process")
		}
		typ, fn, arg := f[4], f[5], strings.Join(f[6:], " ")
		switch typ {
		case ":invoke":
			if _, busy := open[proc]; busy {
				return nil, bad("process %d invoked while it has an open operation", proc)
			}
			var in RegIn
			switch fn {
			case ":read":
				in = RegIn{Op: regRead}
			case ":write":
				v, err := parseEtcdValue(arg)
				if err != nil {
					return nil, bad("%v", err)
				}
				in = RegIn{Op: regWrite, V: v}
			case ":cas":
				a, b, err := parseEtcdPair(arg)
				if err != nil {
					return nil, bad("%v", err)
				}
				in = RegIn{Op: regCas, A: a, B: b}
			default:
				return nil, bad("unknown operation")
			}
			open[proc] = etcdOpen{id: h.call(proc, in), in: in}
			openOrder = append(openOrder, proc)
		case ":ok", ":fail":
			op, busy := open[proc]
			if !busy {
				return nil, bad("completion without an open operation")
			}
			var out RegOut
			switch {
			case typ == ":ok" && fn == ":read" && op.in.Op == regRead:
				v, err := parseEtcdValue(arg)
				if err != nil {
					return nil, bad("%v", err)
				}
				out = RegOut{V: v}
			case typ == ":ok" && fn == ":write" && op.in.Op == regWrite:
				out = RegOut{}
			case typ == ":ok" && fn == ":cas" && op.in.Op == regCas:
				out = RegOut{CasOK: true}
			case typ == ":fail" && fn == ":cas" && op.in.Op == regCas:
				out = RegOut{CasOK: false}
			case typ == ":fail" && fn == ":read" && op.in.Op == regRead && arg == ":timed-out":
				out = unknownRegOut
			default:
				return nil, bad("unexpected completion")
			}
			h.ret(proc, op.id, out)
			delete(open, proc)
		case ":info":
			// Outcome unknown: leave the operation open; it returns at the end.
			if _, busy := open[proc]; !busy {
				return nil, bad(":info without an open operation")
			}
		default:
			return nil, bad("unknown type")
		}
	}
	for _, proc := range openOrder {
		if op, busy := open[proc]; busy {
			h.ret(proc, op.id, unknownRegOut)
			delete(open, proc)
		}
	}
	return h.events, nil
}

// ---------------------------------------------------------------------------
// Format B: one key/value op map per line

// ParseKvLog parses Format B (porcupine/kv/*.txt). Each line is a small EDN
// map; we read it with the EDN reader and then check its shape.
func ParseKvLog(path string) ([]porcupine.Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h := &historyBuilder{}
	type kvOpen struct {
		id int
		in KvIn
	}
	open := make(map[int]kvOpen)
	for lineNo, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		bad := func(format string, args ...interface{}) error {
			return fmt.Errorf("%s:%d: %s: %q", path, lineNo+1, fmt.Sprintf(format, args...), line)
		}
		form, err := ParseEDN(line)
		if err != nil {
			return nil, bad("%v", err)
		}
		m, ok := form.(*Map)
		if !ok {
			return nil, bad("not a map")
		}
		procV, _ := m.Get("process")
		typV, _ := m.Get("type")
		fV, _ := m.Get("f")
		keyV, _ := m.Get("key")
		valV, _ := m.Get("value")
		proc64, ok1 := procV.(int64)
		typ, ok2 := typV.(Keyword)
		fn, ok3 := fV.(Keyword)
		key, ok4 := keyV.(string)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return nil, bad("missing or mistyped field")
		}
		proc := int(proc64)
		switch typ {
		case "invoke":
			if _, busy := open[proc]; busy {
				return nil, bad("process %d invoked while it has an open operation", proc)
			}
			in := KvIn{Key: key}
			switch fn {
			case "get":
				in.Op = kvGet
			case "put", "append":
				s, ok := valV.(string)
				if !ok {
					return nil, bad("put/append without a string value")
				}
				in.Value = s
				if fn == "put" {
					in.Op = kvPut
				} else {
					in.Op = kvAppend
				}
			default:
				return nil, bad("unknown operation")
			}
			open[proc] = kvOpen{id: h.call(proc, in), in: in}
		case "ok":
			op, busy := open[proc]
			if !busy {
				return nil, bad("completion without an open operation")
			}
			out := KvOut{}
			if op.in.Op == kvGet {
				s, ok := valV.(string)
				if !ok {
					return nil, bad("get completion without a string value")
				}
				out.Value = s
			}
			h.ret(proc, op.id, out)
			delete(open, proc)
		default:
			return nil, bad("unexpected type")
		}
	}
	if len(open) != 0 {
		return nil, fmt.Errorf("%s: %d operations never completed", path, len(open))
	}
	return h.events, nil
}

// ---------------------------------------------------------------------------
// Format C: knossos EDN histories

type knossosStatus uint8

const (
	stOpen knossosStatus = iota
	stOK
	stFailed
	stCrashed
)

type knossosOp struct {
	proc   int
	f      Keyword
	value  interface{} // invocation value, replaced by the :ok value
	status knossosStatus
}

type rawEvent struct {
	ret bool
	op  int
}

// knossosConverter turns a knossos op (its f and effective value) into a
// model input, and builds the output given whether the outcome is known.
type knossosConverter interface {
	input(op *knossosOp) (interface{}, error)
	output(op *knossosOp, crashed bool) (interface{}, error)
}

// ParseKnossos parses Format C and builds a history for the given model
// converter.
func ParseKnossos(path string, conv knossosConverter) ([]porcupine.Event, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	form, err := ParseEDN(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var records []interface{}
	switch v := form.(type) {
	case Vector:
		records = v
	case List:
		records = v
	default:
		return nil, fmt.Errorf("%s: top-level form is not a vector or list", path)
	}
	var ops []*knossosOp
	var raw []rawEvent
	open := make(map[int]int) // process -> op index
	for i, rec := range records {
		bad := func(format string, args ...interface{}) error {
			return fmt.Errorf("%s: record %d: %s", path, i, fmt.Sprintf(format, args...))
		}
		m, ok := rec.(*Map)
		if !ok {
			return nil, bad("not a map")
		}
		procV, _ := m.Get("process")
		proc64, ok := procV.(int64)
		if !ok {
			continue // nemesis and other non-client records
		}
		proc := int(proc64)
		typV, _ := m.Get("type")
		typ, ok := typV.(Keyword)
		if !ok {
			return nil, bad("missing :type")
		}
		fV, _ := m.Get("f")
		fn, ok := fV.(Keyword)
		if !ok {
			return nil, bad("missing :f")
		}
		value, _ := m.Get("value") // missing = nil
		switch typ {
		case "invoke":
			if _, busy := open[proc]; busy {
				return nil, bad("process %d invoked while it has an open operation", proc)
			}
			ops = append(ops, &knossosOp{proc: proc, f: fn, value: value})
			open[proc] = len(ops) - 1
			raw = append(raw, rawEvent{ret: false, op: len(ops) - 1})
		case "ok", "fail", "info":
			idx, busy := open[proc]
			if !busy {
				return nil, bad("completion without an open operation (process %d)", proc)
			}
			op := ops[idx]
			if op.f != fn {
				return nil, bad("completion :f %s does not match invocation :f %s", fn, op.f)
			}
			delete(open, proc)
			switch typ {
			case "ok":
				op.status = stOK
				op.value = value
				raw = append(raw, rawEvent{ret: true, op: idx})
			case "fail":
				op.status = stFailed
			case "info":
				op.status = stCrashed
			}
		default:
			return nil, bad("unknown :type %s", typ)
		}
	}
	for _, op := range ops {
		if op.status == stOpen {
			op.status = stCrashed
		}
	}
	h := &historyBuilder{}
	ids := make([]int, len(ops))
	emitReturn := func(idx int) error {
		op := ops[idx]
		out, err := conv.output(op, op.status == stCrashed)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		h.ret(op.proc, ids[idx], out)
		return nil
	}
	for _, ev := range raw {
		op := ops[ev.op]
		if op.status == stFailed {
			continue // a failed op did not happen: drop invocation and completion
		}
		if !ev.ret {
			in, err := conv.input(op)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			ids[ev.op] = h.call(op.proc, in)
		} else if err := emitReturn(ev.op); err != nil {
			return nil, err
		}
	}
	for idx, op := range ops {
		if op.status == stCrashed {
			if err := emitReturn(idx); err != nil {
				return nil, err
			}
		}
	}
	return h.events, nil
}

func ednRegVal(v interface{}) (RegVal, error) {
	switch x := v.(type) {
	case nil:
		return nilVal, nil
	case int64:
		return intVal(x), nil
	}
	return nilVal, fmt.Errorf("unsupported register value %#v", v)
}

// casRegisterConv converts knossos cas-register ops.
type casRegisterConv struct{}

func (casRegisterConv) input(op *knossosOp) (interface{}, error) {
	switch op.f {
	case "read":
		return RegIn{Op: regRead}, nil
	case "write":
		v, err := ednRegVal(op.value)
		if err != nil {
			return nil, err
		}
		return RegIn{Op: regWrite, V: v}, nil
	case "cas":
		pair, ok := op.value.(Vector)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("bad cas value %#v", op.value)
		}
		a, err := ednRegVal(pair[0])
		if err != nil {
			return nil, err
		}
		b, err := ednRegVal(pair[1])
		if err != nil {
			return nil, err
		}
		return RegIn{Op: regCas, A: a, B: b}, nil
	}
	return nil, fmt.Errorf("unknown cas-register op :%s", op.f)
}

func (casRegisterConv) output(op *knossosOp, crashed bool) (interface{}, error) {
	if crashed {
		return unknownRegOut, nil
	}
	switch op.f {
	case "read":
		v, err := ednRegVal(op.value)
		if err != nil {
			return nil, err
		}
		return RegOut{V: v}, nil // nil = wildcard (model option)
	case "cas":
		return RegOut{CasOK: true}, nil
	}
	return RegOut{}, nil
}

// multiRegisterConv converts knossos multi-register :txn ops. Register keys
// are mapped to indices in order of first appearance, after the keys of the
// initial state.
type multiRegisterConv struct {
	keys map[Keyword]int
}

func (c *multiRegisterConv) keyIndex(k Keyword) (int, error) {
	if i, ok := c.keys[k]; ok {
		return i, nil
	}
	if len(c.keys) >= maxRegKeys {
		return 0, fmt.Errorf("too many register keys")
	}
	c.keys[k] = len(c.keys)
	return c.keys[k], nil
}

func (c *multiRegisterConv) micro(value interface{}) (*MultiIn, error) {
	txn, ok := value.(Vector)
	if !ok {
		return nil, fmt.Errorf("txn value is not a vector: %#v", value)
	}
	in := &MultiIn{}
	for _, mv := range txn {
		m, ok := mv.(Vector)
		if !ok || len(m) != 3 {
			return nil, fmt.Errorf("bad micro-op %#v", mv)
		}
		f, ok1 := m[0].(Keyword)
		k, ok2 := m[1].(Keyword)
		if !ok1 || !ok2 || (f != "read" && f != "write") {
			return nil, fmt.Errorf("bad micro-op %#v", mv)
		}
		idx, err := c.keyIndex(k)
		if err != nil {
			return nil, err
		}
		v, err := ednRegVal(m[2])
		if err != nil {
			return nil, err
		}
		if f == "write" && !v.Set {
			return nil, fmt.Errorf("write of nil in %#v", mv)
		}
		in.Ops = append(in.Ops, MicroOp{Write: f == "write", Key: idx, V: v})
	}
	return in, nil
}

// For multi-register the whole (effective) txn goes into the input: the :ok
// value, with the values read, for completed txns; the invocation value, whose
// reads are nil wildcards, for crashed ones. The output is unused.
func (c *multiRegisterConv) input(op *knossosOp) (interface{}, error) {
	if op.f != "txn" {
		return nil, fmt.Errorf("unknown multi-register op :%s", op.f)
	}
	if op.status == stCrashed {
		// Writes of a crashed txn may take effect; its reads are unknown.
		in, err := c.micro(op.value)
		if err != nil {
			return nil, err
		}
		for i := range in.Ops {
			if !in.Ops[i].Write {
				in.Ops[i].V = nilVal
			}
		}
		return in, nil
	}
	return c.micro(op.value)
}

func (c *multiRegisterConv) output(op *knossosOp, crashed bool) (interface{}, error) {
	return nil, nil
}

// mutexConv converts knossos mutex ops.
type mutexConv struct{}

func (mutexConv) input(op *knossosOp) (interface{}, error) {
	switch op.f {
	case "acquire":
		return MutexIn{Acquire: true}, nil
	case "release":
		return MutexIn{Acquire: false}, nil
	}
	return nil, fmt.Errorf("unknown mutex op :%s", op.f)
}

func (mutexConv) output(op *knossosOp, crashed bool) (interface{}, error) {
	return MutexOut{Unknown: crashed}, nil
}
