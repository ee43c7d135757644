package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// node is a JSON value that remembers the order of object keys and the
// exact spelling of scalars, so a document can be edited (keys deleted,
// values replaced) and written back the way the server wrote it.
type node struct {
	keys  []string // object: keys in order
	vals  []*node  // object: values, parallel to keys
	elems []*node  // array
	raw   []byte   // scalar: the bytes as read (string, number, true, false, null)
	kind  byte     // '{', '[' or 's'
}

// parseNode reads one JSON document in a single pass. Scalars keep their
// exact bytes (string escapes, number spelling); keys are decoded strings.
func parseNode(b []byte) (*node, error) {
	p := &nodeParser{b: b, dec: json.NewDecoder(bytes.NewReader(b))}
	p.dec.UseNumber()
	tok, raw, err := p.next()
	if err != nil {
		return nil, err
	}
	n, err := p.value(tok, raw)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return n, nil
}

type nodeParser struct {
	b   []byte
	dec *json.Decoder
}

// next returns the next token and, for a scalar, its bytes as written.
func (p *nodeParser) next() (json.Token, []byte, error) {
	start := p.dec.InputOffset()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, nil, err
	}
	raw := bytes.TrimLeft(p.b[start:p.dec.InputOffset()], " \t\r\n,:")
	return tok, raw, nil
}

func (p *nodeParser) value(tok json.Token, raw []byte) (*node, error) {
	switch tok {
	case json.Delim('{'):
		n := &node{kind: '{'}
		for p.dec.More() {
			kt, _, err := p.next()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			vt, vraw, err := p.next()
			if err != nil {
				return nil, err
			}
			v, err := p.value(vt, vraw)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, key)
			n.vals = append(n.vals, v)
		}
		_, err := p.dec.Token() // }
		return n, err
	case json.Delim('['):
		n := &node{kind: '['}
		for p.dec.More() {
			vt, vraw, err := p.next()
			if err != nil {
				return nil, err
			}
			v, err := p.value(vt, vraw)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, v)
		}
		_, err := p.dec.Token() // ]
		return n, err
	}
	return &node{kind: 's', raw: raw}, nil
}

// strNode makes a string scalar.
func strNode(s string) *node { return &node{kind: 's', raw: quote(s)} }

// quote encodes s as a JSON string without HTML escaping.
func quote(s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			plain = false
			break
		}
	}
	if plain {
		return []byte(`"` + s + `"`)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSpace(b.Bytes())
}

func objNode() *node { return &node{kind: '{'} }

// get returns an object member, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != '{' {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// set replaces an object member or appends it.
func (n *node) set(key string, v *node) {
	for i, k := range n.keys {
		if k == key {
			n.vals[i] = v
			return
		}
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, v)
}

// del removes an object member.
func (n *node) del(key string) {
	if n == nil || n.kind != '{' {
		return
	}
	for i, k := range n.keys {
		if k == key {
			n.keys = append(n.keys[:i], n.keys[i+1:]...)
			n.vals = append(n.vals[:i], n.vals[i+1:]...)
			return
		}
	}
}

// str returns the value of a string scalar.
func (n *node) str() (string, bool) {
	if n == nil || n.kind != 's' || len(n.raw) == 0 || n.raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(n.raw, &s) != nil {
		return "", false
	}
	return s, true
}

// clone copies n deeply.
func (n *node) clone() *node {
	if n == nil {
		return nil
	}
	c := &node{kind: n.kind, raw: n.raw, keys: append([]string(nil), n.keys...)}
	for _, v := range n.vals {
		c.vals = append(c.vals, v.clone())
	}
	for _, e := range n.elems {
		c.elems = append(c.elems, e.clone())
	}
	return c
}

// encode writes n compactly.
func (n *node) encode(b *bytes.Buffer) {
	switch n.kind {
	case '{':
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(quote(k))
			b.WriteByte(':')
			n.vals[i].encode(b)
		}
		b.WriteByte('}')
	case '[':
		b.WriteByte('[')
		for i, e := range n.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.encode(b)
		}
		b.WriteByte(']')
	default:
		b.Write(n.raw)
	}
}

// bytes returns n as compact JSON.
func (n *node) bytes() []byte {
	var b bytes.Buffer
	n.encode(&b)
	return b.Bytes()
}
