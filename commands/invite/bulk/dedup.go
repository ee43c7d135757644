package bulk

import "crypto/sha256"

// hashKey is the duplicate-detection key of a value (callers normalise it:
// e-mails are already lowercase): 16 bytes of SHA-256, so the set of seen
// rows costs the same whatever the values' length.
func hashKey(kind, v string) [16]byte {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(v))
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
}
