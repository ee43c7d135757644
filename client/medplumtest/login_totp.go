package medplumtest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// TOTPSecret is a fixed base32 TOTP secret for tests (RFC 6238 test key
// "12345678901234567890").
const TOTPSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// totpStep is the TOTP time step.
const totpStep = 30 * time.Second

// TOTP returns the 6-digit code of a base32 secret at t (RFC 6238:
// HMAC-SHA1, 30-second steps), as an authenticator app shows it.
func TOTP(secret string, t time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		panic("medplumtest: TOTP: secret is not base32: " + err.Error())
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/int64(totpStep/time.Second)))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	n := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", n%1_000_000)
}

// CheckTOTP accepts the code of the current step or an adjacent one (clock
// drift), as otplib's authenticator does.
func CheckTOTP(secret, code string, now time.Time) bool {
	if secret == "" || len(code) != 6 {
		return false
	}
	for _, d := range []time.Duration{0, -totpStep, totpStep} {
		if equalString(TOTP(secret, now.Add(d)), code) {
			return true
		}
	}
	return false
}
