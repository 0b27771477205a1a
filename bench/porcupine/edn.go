package main

// A small reader for the subset of EDN used by the knossos histories in the
// conformance corpus (see shared/conformance/FORMAT.md, "Syntax"): one
// top-level vector or list; maps, vectors, lists; keywords, integers, nil,
// booleans, symbols and strings with backslash escapes; `;` comments; commas
// as whitespace. Tagged forms (`#...`) are rejected.

import (
	"fmt"
	"strconv"
	"strings"
)

// Keyword is an EDN keyword, stored without its leading colon.
type Keyword string

// Symbol is a bare EDN symbol other than nil/true/false.
type Symbol string

// Vector is an EDN vector `[...]`.
type Vector []interface{}

// List is an EDN list `(...)`.
type List []interface{}

// Map is an EDN map `{...}`, keeping its entries in file order.
type Map struct {
	Keys []interface{}
	Vals []interface{}
}

// Get returns the value stored under keyword k, and whether it is present.
func (m *Map) Get(k Keyword) (interface{}, bool) {
	for i, key := range m.Keys {
		if kw, ok := key.(Keyword); ok && kw == k {
			return m.Vals[i], true
		}
	}
	return nil, false
}

type ednReader struct {
	src  string
	pos  int
	line int
}

type ednError struct {
	line int
	msg  string
}

func (e *ednError) Error() string { return fmt.Sprintf("edn line %d: %s", e.line, e.msg) }

func (r *ednReader) fail(format string, args ...interface{}) error {
	return &ednError{line: r.line, msg: fmt.Sprintf(format, args...)}
}

// ParseEDN reads exactly one top-level form from src.
func ParseEDN(src string) (interface{}, error) {
	r := &ednReader{src: src, line: 1}
	r.skipSpace()
	if r.pos >= len(r.src) {
		return nil, r.fail("no top-level form")
	}
	v, err := r.read()
	if err != nil {
		return nil, err
	}
	r.skipSpace()
	if r.pos < len(r.src) {
		return nil, r.fail("unexpected data after the top-level form: %q", snippet(r.src[r.pos:]))
	}
	return v, nil
}

func snippet(s string) string {
	if len(s) > 30 {
		return s[:30] + "..."
	}
	return s
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '\f'
}

func isDelimiter(c byte) bool {
	return isSpace(c) || c == '(' || c == ')' || c == '[' || c == ']' ||
		c == '{' || c == '}' || c == '"' || c == ';'
}

func (r *ednReader) skipSpace() {
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		switch {
		case c == '\n':
			r.line++
			r.pos++
		case isSpace(c):
			r.pos++
		case c == ';':
			for r.pos < len(r.src) && r.src[r.pos] != '\n' {
				r.pos++
			}
		default:
			return
		}
	}
}

func (r *ednReader) read() (interface{}, error) {
	if r.pos >= len(r.src) {
		return nil, r.fail("unexpected end of input")
	}
	c := r.src[r.pos]
	switch c {
	case '[':
		r.pos++
		items, err := r.readSeq(']')
		return Vector(items), err
	case '(':
		r.pos++
		items, err := r.readSeq(')')
		return List(items), err
	case '{':
		r.pos++
		items, err := r.readSeq('}')
		if err != nil {
			return nil, err
		}
		if len(items)%2 != 0 {
			return nil, r.fail("map with an odd number of forms")
		}
		m := &Map{}
		for i := 0; i < len(items); i += 2 {
			m.Keys = append(m.Keys, items[i])
			m.Vals = append(m.Vals, items[i+1])
		}
		return m, nil
	case '"':
		return r.readString()
	case ']', ')', '}':
		return nil, r.fail("unexpected %q", c)
	case '#':
		return nil, r.fail("tagged/dispatch forms (#...) are not supported")
	case '\\':
		return nil, r.fail("character literals are not supported")
	}
	start := r.pos
	for r.pos < len(r.src) && !isDelimiter(r.src[r.pos]) {
		r.pos++
	}
	tok := r.src[start:r.pos]
	if tok[0] == ':' {
		if len(tok) == 1 {
			return nil, r.fail("empty keyword")
		}
		return Keyword(tok[1:]), nil
	}
	if isNumberStart(tok) {
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil {
			return nil, r.fail("unsupported number %q", tok)
		}
		return n, nil
	}
	switch tok {
	case "nil":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return Symbol(tok), nil
}

func isNumberStart(tok string) bool {
	c := tok[0]
	if c >= '0' && c <= '9' {
		return true
	}
	if (c == '-' || c == '+') && len(tok) > 1 && tok[1] >= '0' && tok[1] <= '9' {
		return true
	}
	return false
}

func (r *ednReader) readSeq(closer byte) ([]interface{}, error) {
	var items []interface{}
	for {
		r.skipSpace()
		if r.pos >= len(r.src) {
			return nil, r.fail("unterminated collection, expected %q", closer)
		}
		if r.src[r.pos] == closer {
			r.pos++
			return items, nil
		}
		v, err := r.read()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
}

func (r *ednReader) readString() (interface{}, error) {
	r.pos++ // opening quote
	var b strings.Builder
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		switch c {
		case '"':
			r.pos++
			return b.String(), nil
		case '\n':
			r.line++
			b.WriteByte(c)
			r.pos++
		case '\\':
			if r.pos+1 >= len(r.src) {
				return nil, r.fail("unterminated string escape")
			}
			e := r.src[r.pos+1]
			r.pos += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if r.pos+4 > len(r.src) {
					return nil, r.fail("short \\u escape")
				}
				n, err := strconv.ParseUint(r.src[r.pos:r.pos+4], 16, 32)
				if err != nil {
					return nil, r.fail("bad \\u escape")
				}
				b.WriteRune(rune(n))
				r.pos += 4
			default: // \" \\ and anything else: the character itself
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
			r.pos++
		}
	}
	return nil, r.fail("unterminated string")
}
