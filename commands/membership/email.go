package membership

import "strings"

// ValidEmail is a syntax check close to the server's (express-validator
// isEmail with its defaults): one @, a dot-atom local part of at most 64
// bytes, a domain of at least two dot-separated labels whose last one (the
// TLD) is at least two letters, no spaces, at most 254 bytes in all.
// Non-ASCII letters are allowed on both sides, as the server allows them.
func ValidEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || strings.Contains(domain, "@") {
		return false
	}
	if len(local) == 0 || len(local) > 64 || !dotAtom(local, isLocalRune) {
		return false
	}
	if len(domain) > 253 || !dotAtom(domain, isDomainRune) {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	tld := labels[len(labels)-1]
	if strings.HasPrefix(strings.ToLower(tld), "xn--") {
		return len(tld) > 4
	}
	if len([]rune(tld)) < 2 {
		return false
	}
	for _, r := range tld {
		if r < 0x80 && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// dotAtom reports whether s is non-empty runs of allowed runes separated by
// single dots, with no dot at either end.
func dotAtom(s string, allowed func(rune) bool) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if r != '.' && !allowed(r) {
			return false
		}
	}
	return true
}

func isLocalRune(r rune) bool {
	if r >= 0x80 {
		return r != 0xFFFD && !isSpaceRune(r)
	}
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("!#$%&'*+/=?^_`{|}~-", r)
}

func isDomainRune(r rune) bool {
	if r >= 0x80 {
		return r != 0xFFFD && !isSpaceRune(r)
	}
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'
}

func isSpaceRune(r rune) bool {
	switch r {
	case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200B
}
