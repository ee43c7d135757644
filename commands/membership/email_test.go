package membership

import (
	"strings"
	"testing"
)

func TestValidEmail(t *testing.T) {
	good := []string{"a@b.co", "first.last+tag@sub.example.org", "o'neil@example.ie", "josé@exämple.de", "x@xn--bcher-kva.example", "a@b.xn--p1ai"}
	bad := []string{"", "a", "a@", "@b.co", "a@b", "a@b.c", "a b@c.co", "a@b..co", ".a@b.co", "a.@b.co", "a@-b.co", "a@b.co.", "a@@b.co", "a@b.c0", "a@b_c.co", "a,b@c.co", strings.Repeat("x", 65) + "@b.co"}
	for _, e := range good {
		if !ValidEmail(e) {
			t.Errorf("ValidEmail(%q) = false, want true", e)
		}
	}
	for _, e := range bad {
		if ValidEmail(e) {
			t.Errorf("ValidEmail(%q) = true, want false", e)
		}
	}
}
