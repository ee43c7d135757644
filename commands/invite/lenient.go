package invite

// withoutTrailingCommas returns b without the commas that directly precede
// a closing } or ] (outside strings), as JavaScript object literals allow
// and Medplum's own invite examples have; ok is false when there were none.
func withoutTrailingCommas(b []byte) (out []byte, ok bool) {
	out = make([]byte, 0, len(b))
	inString, escaped := false, false
	pending := -1 // index in out of a comma that may be trailing
	for _, c := range b {
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			out = append(out, c)
			continue
		case '}', ']':
			if pending >= 0 {
				out = append(out[:pending], out[pending+1:]...)
				ok = true
			}
		case '"':
			inString = true
		}
		pending = -1
		if c == ',' {
			pending = len(out)
		}
		out = append(out, c)
	}
	return out, ok
}
