package xmlrpc

import (
	"bufio"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// node is one element of a parsed document.
type node struct {
	name     string
	text     strings.Builder
	children []*node
}

func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

// ctrlBase is where control bytes, which XML 1.0 forbids but Python's
// xmlrpc happily sends inside log strings, are parked in the private-use
// area while the document is parsed; string values get them back.
const ctrlBase = 0xE000

// ctrlReader maps each byte below 0x20 other than tab, LF and CR to the rune
// ctrlBase+byte.
type ctrlReader struct {
	r   *bufio.Reader
	buf []byte
}

func (c *ctrlReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(c.buf) > 0 {
			k := copy(p[n:], c.buf)
			c.buf = c.buf[k:]
			n += k
			continue
		}
		b, err := c.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' {
			c.buf = utf8.AppendRune(c.buf[:0], rune(ctrlBase+int(b)))
			continue
		}
		p[n] = b
		n++
	}
	return n, nil
}

func restoreCtrl(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= ctrlBase && r < ctrlBase+0x20 }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r >= ctrlBase && r < ctrlBase+0x20 {
			b.WriteByte(byte(r - ctrlBase))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func parseTree(r io.Reader) (*node, error) {
	d := xml.NewDecoder(&ctrlReader{r: bufio.NewReader(r)})
	d.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root == nil {
				root = n
			} else {
				return nil, fmt.Errorf("%w: more than one root element", ErrMalformed)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: empty document", ErrMalformed)
	}
	return root, nil
}

// DecodeCall reads a methodCall document.
func DecodeCall(r io.Reader) (method string, params []any, err error) {
	root, err := parseTree(r)
	if err != nil {
		return "", nil, err
	}
	if root.name != "methodCall" {
		return "", nil, fmt.Errorf("%w: root is <%s>, want <methodCall>", ErrMalformed, root.name)
	}
	mn := root.child("methodName")
	if mn == nil {
		return "", nil, fmt.Errorf("%w: no <methodName>", ErrMalformed)
	}
	method = strings.TrimSpace(mn.text.String())
	if ps := root.child("params"); ps != nil {
		for _, p := range ps.children {
			v := p.child("value")
			if p.name != "param" || v == nil {
				return "", nil, fmt.Errorf("%w: <params> holds <%s> without <value>", ErrMalformed, p.name)
			}
			val, err := decodeValue(v)
			if err != nil {
				return "", nil, err
			}
			params = append(params, val)
		}
	}
	return method, params, nil
}

// DecodeResponse reads a methodResponse document. A fault answer is
// returned as a *Fault error.
func DecodeResponse(r io.Reader) (any, error) {
	root, err := parseTree(r)
	if err != nil {
		return nil, err
	}
	if root.name != "methodResponse" {
		return nil, fmt.Errorf("%w: root is <%s>, want <methodResponse>", ErrMalformed, root.name)
	}
	if f := root.child("fault"); f != nil {
		v := f.child("value")
		if v == nil {
			return nil, fmt.Errorf("%w: <fault> without <value>", ErrMalformed)
		}
		fv, err := decodeValue(v)
		if err != nil {
			return nil, err
		}
		m, _ := fv.(map[string]any)
		code, _ := m["faultCode"].(int)
		str, _ := m["faultString"].(string)
		return nil, &Fault{Code: code, String: str}
	}
	ps := root.child("params")
	if ps == nil || len(ps.children) != 1 || ps.children[0].child("value") == nil {
		return nil, fmt.Errorf("%w: a response holds exactly one <param><value>", ErrMalformed)
	}
	return decodeValue(ps.children[0].child("value"))
}

func decodeValue(v *node) (any, error) {
	if len(v.children) == 0 {
		return restoreCtrl(v.text.String()), nil
	}
	t := v.children[0]
	text := t.text.String()
	switch t.name {
	case "int", "i4", "i8", "i1", "i2":
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: <%s>%s</%s>", ErrMalformed, t.name, text, t.name)
		}
		return int(n), nil
	case "boolean":
		switch strings.TrimSpace(text) {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
		return nil, fmt.Errorf("%w: <boolean>%s</boolean>", ErrMalformed, text)
	case "string":
		return restoreCtrl(text), nil
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: <double>%s</double>", ErrMalformed, text)
		}
		return f, nil
	case "dateTime.iso8601":
		tm, err := time.Parse(TimeLayout, strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%w: <dateTime.iso8601>%s</dateTime.iso8601>", ErrMalformed, text)
		}
		return tm, nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%w: bad base64", ErrMalformed)
		}
		return b, nil
	case "nil":
		return nil, nil
	case "array":
		data := t.child("data")
		out := []any{}
		if data == nil {
			return out, nil
		}
		for _, c := range data.children {
			val, err := decodeValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	case "struct":
		out := map[string]any{}
		for _, m := range t.children {
			name, val := m.child("name"), m.child("value")
			if m.name != "member" || name == nil || val == nil {
				return nil, fmt.Errorf("%w: <struct> member without <name> and <value>", ErrMalformed)
			}
			dv, err := decodeValue(val)
			if err != nil {
				return nil, err
			}
			out[restoreCtrl(name.text.String())] = dv
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unknown value type <%s>", ErrMalformed, t.name)
}
