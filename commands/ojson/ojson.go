// Package ojson is a JSON tree that remembers the order of object keys and
// the exact spelling of scalars, so a document the server sent can be
// edited (members deleted, values replaced) and written back the way the
// server wrote it: the house rule "JSON output is the server's JSON".
package ojson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Kind is what a Node holds.
type Kind byte

// The kinds of Node.
const (
	Object Kind = '{'
	Array  Kind = '['
	Scalar Kind = 's' // a string, number, true, false or null
)

// Node is one JSON value.
type Node struct {
	Kind  Kind
	Keys  []string // Object: keys in order
	Vals  []*Node  // Object: values, parallel to Keys
	Elems []*Node  // Array
	Raw   []byte   // Scalar: the bytes as read (string escapes, number spelling)
}

// Parse reads one JSON document in a single pass. Scalars keep their
// exact bytes; keys are decoded strings.
func Parse(b []byte) (*Node, error) {
	p := &parser{b: b, dec: json.NewDecoder(bytes.NewReader(b))}
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

type parser struct {
	b   []byte
	dec *json.Decoder
}

// next returns the next token and, for a scalar, its bytes as written.
func (p *parser) next() (json.Token, []byte, error) {
	start := p.dec.InputOffset()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, nil, err
	}
	raw := bytes.TrimLeft(p.b[start:p.dec.InputOffset()], " \t\r\n,:")
	return tok, raw, nil
}

func (p *parser) value(tok json.Token, raw []byte) (*Node, error) {
	switch tok {
	case json.Delim('{'):
		n := NewObject()
		for p.dec.More() {
			kt, _, err := p.next()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string)
			v, err := p.member()
			if err != nil {
				return nil, err
			}
			n.Keys = append(n.Keys, key)
			n.Vals = append(n.Vals, v)
		}
		_, err := p.dec.Token() // }
		return n, err
	case json.Delim('['):
		n := NewArray(nil)
		for p.dec.More() {
			v, err := p.member()
			if err != nil {
				return nil, err
			}
			n.Elems = append(n.Elems, v)
		}
		_, err := p.dec.Token() // ]
		return n, err
	}
	return &Node{Kind: Scalar, Raw: raw}, nil
}

// member reads the value of an object member or array element.
func (p *parser) member() (*Node, error) {
	tok, raw, err := p.next()
	if err != nil {
		return nil, err
	}
	return p.value(tok, raw)
}

// String makes a string scalar.
func String(s string) *Node { return &Node{Kind: Scalar, Raw: quote(s)} }

// Literal makes a scalar written as given: true, false, null or a number.
func Literal(raw string) *Node { return &Node{Kind: Scalar, Raw: []byte(raw)} }

// NewObject makes an empty object.
func NewObject() *Node { return &Node{Kind: Object} }

// NewArray makes an array of elems.
func NewArray(elems []*Node) *Node { return &Node{Kind: Array, Elems: elems} }

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

// Get returns an object member, or nil (also when n is nil or no object).
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != Object {
		return nil
	}
	for i, k := range n.Keys {
		if k == key {
			return n.Vals[i]
		}
	}
	return nil
}

// Set replaces an object member or appends it.
func (n *Node) Set(key string, v *Node) {
	for i, k := range n.Keys {
		if k == key {
			n.Vals[i] = v
			return
		}
	}
	n.Keys = append(n.Keys, key)
	n.Vals = append(n.Vals, v)
}

// Del removes an object member.
func (n *Node) Del(key string) {
	if n == nil || n.Kind != Object {
		return
	}
	for i, k := range n.Keys {
		if k == key {
			n.Keys = append(n.Keys[:i], n.Keys[i+1:]...)
			n.Vals = append(n.Vals[:i], n.Vals[i+1:]...)
			return
		}
	}
}

// Str returns the value of a string scalar.
func (n *Node) Str() (string, bool) {
	if n == nil || n.Kind != Scalar || len(n.Raw) == 0 || n.Raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(n.Raw, &s) != nil {
		return "", false
	}
	return s, true
}

// Clone copies n deeply.
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	c := &Node{Kind: n.Kind, Raw: n.Raw, Keys: append([]string(nil), n.Keys...)}
	for _, v := range n.Vals {
		c.Vals = append(c.Vals, v.Clone())
	}
	for _, e := range n.Elems {
		c.Elems = append(c.Elems, e.Clone())
	}
	return c
}

// Encode writes n compactly.
func (n *Node) Encode(b *bytes.Buffer) {
	switch n.Kind {
	case Object:
		b.WriteByte('{')
		for i, k := range n.Keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(quote(k))
			b.WriteByte(':')
			n.Vals[i].Encode(b)
		}
		b.WriteByte('}')
	case Array:
		b.WriteByte('[')
		for i, e := range n.Elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.Encode(b)
		}
		b.WriteByte(']')
	default:
		b.Write(n.Raw)
	}
}

// Bytes returns n as compact JSON.
func (n *Node) Bytes() []byte {
	var b bytes.Buffer
	n.Encode(&b)
	return b.Bytes()
}
