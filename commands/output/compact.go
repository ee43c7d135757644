package output

import (
	"bytes"
	"encoding/json"
)

// AppendNDJSON appends each document compacted on its own line. The
// documents must be valid JSON, as decoded from a server's answer (see
// AppendCompact).
func AppendNDJSON(dst []byte, docs []json.RawMessage) []byte {
	for _, d := range docs {
		dst = append(AppendCompact(dst, d), '\n')
	}
	return dst
}

// AppendCompact appends src, a valid JSON document, without its
// insignificant white space: what json.Compact writes, without checking
// the document again. A document that is compact already, as servers send
// them, is found so with a few vectorised scans (isCompact) and copied;
// json.Compact runs a state machine over every byte, and was a quarter of
// get --all's CPU (BenchmarkGetAll).
func AppendCompact(dst, src []byte) []byte {
	if isCompact(src) {
		return append(dst, src...)
	}
	start := 0 // src[start:i] is still to be copied
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '"':
			end := stringEnd(src, i+1)
			if end < 0 {
				return append(dst, src[start:]...) // not valid JSON: left as it is
			}
			i = end
		case ' ', '\t', '\n', '\r':
			dst = append(dst, src[start:i]...)
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}

// isCompact reports that src, a valid JSON document, has no white space
// outside its strings. Tabs, line ends and quotes can be in a string only
// escaped; without backslashes, a space is in a string when an odd number
// of quotes comes before it. A document with backslashes is left to the
// byte-by-byte loop (false).
func isCompact(src []byte) bool {
	for _, c := range []byte{'\n', '\r', '\t', '\\'} {
		if bytes.IndexByte(src, c) >= 0 {
			return false
		}
	}
	quotes := 0
	for from := 0; ; {
		k := bytes.IndexByte(src[from:], ' ')
		if k < 0 {
			return true
		}
		quotes += bytes.Count(src[from:from+k], []byte{'"'})
		if quotes%2 == 0 {
			return false
		}
		from += k + 1
	}
}

// stringEnd returns the index of the quote that closes the string whose
// contents start at src[from], or -1.
func stringEnd(src []byte, from int) int {
	for {
		k := bytes.IndexByte(src[from:], '"')
		if k < 0 {
			return -1
		}
		q := from + k
		backslashes := 0
		for j := q - 1; j >= from && src[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q
		}
		from = q + 1
	}
}
