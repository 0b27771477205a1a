// Command porcupine-runner checks every history listed in the conformance
// MANIFEST.tsv with porcupine and reports verdicts and checking times.
//
// Usage:
//
//	porcupine-runner [-timeout SECONDS] MANIFEST.tsv CONFORMANCE_DIR
//
// Output (stdout), one line per manifest row, TAB-separated:
//
//	<relative path>	<ok|illegal|unknown>	<check seconds>	<match|MISMATCH>
//
// followed by `total	<sum of check seconds>`. Check seconds cover only the
// porcupine.CheckEventsTimeout call (parsing is excluded). A parse error is
// reported as verdict `error` (always a MISMATCH) with 0 seconds and a message
// on stderr. A summary per model goes to stderr. Exit status: 0 if every
// verdict matches the manifest, 1 if any does not, 2 on usage/manifest errors.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

type manifestRow struct {
	file     string
	model    string
	expected string
}

func readManifest(path string) ([]manifestRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var rows []manifestRow
	col := map[string]int{}
	header := true
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		fields := strings.Split(line, "\t")
		if header {
			for i, name := range fields {
				col[name] = i
			}
			for _, need := range []string{"file", "model", "expected"} {
				if _, ok := col[need]; !ok {
					return nil, fmt.Errorf("%s: header has no %q column", path, need)
				}
			}
			header = false
			continue
		}
		get := func(name string) string {
			if i := col[name]; i < len(fields) {
				return fields[i]
			}
			return ""
		}
		rows = append(rows, manifestRow{file: get("file"), model: get("model"), expected: get("expected")})
	}
	return rows, sc.Err()
}

// load parses one history and picks the porcupine model for it.
func load(path, model string) (porcupine.Model, []porcupine.Event, error) {
	switch model {
	case "etcd-cas-register":
		ev, err := ParseEtcdLog(path)
		return registerModel(nilVal, false), ev, err
	case "kv-append":
		ev, err := ParseKvLog(path)
		return kvModel(), ev, err
	case "cas-register":
		ev, err := ParseKnossos(path, casRegisterConv{})
		return registerModel(intVal(0), true), ev, err
	case "multi-register":
		conv := &multiRegisterConv{keys: map[Keyword]int{"x": 0, "y": 1}}
		ev, err := ParseKnossos(path, conv)
		return multiRegisterModel(MultiState{}), ev, err // x = y = 0
	case "mutex":
		ev, err := ParseKnossos(path, mutexConv{})
		return mutexModel(), ev, err
	}
	return porcupine.Model{}, nil, fmt.Errorf("unknown model %q", model)
}

func verdictString(r porcupine.CheckResult) string {
	switch r {
	case porcupine.Ok:
		return "ok"
	case porcupine.Illegal:
		return "illegal"
	}
	return "unknown"
}

func main() {
	timeoutSec := flag.Float64("timeout", 60, "per-file porcupine timeout in seconds (0 = none)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [-timeout SECONDS] MANIFEST.tsv CONFORMANCE_DIR\n", filepath.Base(os.Args[0]))
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	rows, err := readManifest(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	dir := flag.Arg(1)
	timeout := time.Duration(*timeoutSec * float64(time.Second))

	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()

	type modelStats struct {
		files, matched int
		seconds        float64
	}
	stats := map[string]*modelStats{}
	total := 0.0
	matched := 0
	for _, row := range rows {
		st := stats[row.model]
		if st == nil {
			st = &modelStats{}
			stats[row.model] = st
		}
		st.files++
		model, events, err := load(filepath.Join(dir, row.file), row.model)
		verdict := "error"
		secs := 0.0
		if err != nil {
			fmt.Fprintf(os.Stderr, "error: %s: %v\n", row.file, err)
		} else {
			start := time.Now()
			res := porcupine.CheckEventsTimeout(model, events, timeout)
			secs = time.Since(start).Seconds()
			verdict = verdictString(res)
		}
		match := "MISMATCH"
		if verdict == row.expected {
			match = "match"
			matched++
			st.matched++
		}
		total += secs
		st.seconds += secs
		fmt.Fprintf(out, "%s\t%s\t%.6f\t%s\n", row.file, verdict, secs, match)
		out.Flush()
	}
	fmt.Fprintf(out, "total\t%.6f\n", total)
	out.Flush()

	names := make([]string, 0, len(stats))
	for name := range stats {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		st := stats[name]
		fmt.Fprintf(os.Stderr, "model %-18s files %4d  matched %4d  check %.3fs\n", name, st.files, st.matched, st.seconds)
	}
	fmt.Fprintf(os.Stderr, "matched %d/%d  total check %.3fs\n", matched, len(rows), total)
	if matched != len(rows) {
		out.Flush()
		os.Exit(1)
	}
}
