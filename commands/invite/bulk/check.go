package bulk

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// MaxProblems bounds how many problems Check keeps; the rest are counted.
const MaxProblems = 1000

// CheckResult is what the validation pass found.
type CheckResult struct {
	Rows     int       // non-blank data rows
	Valid    int       // rows that can be sent
	Invalid  int       // rows with at least one problem
	Problems []Problem // the first MaxProblems problems, in file order
	Dropped  int       // problems beyond MaxProblems
	Digest   [32]byte  // SHA-256 of the file's bytes: the journal's key
}

// DigestString is the digest as the journal records it.
func (c *CheckResult) DigestString() string { return fmt.Sprintf("sha256:%x", c.Digest) }

// Check reads the whole file once, as a stream, and reports every problem.
// A header that cannot be used is returned as a *HeaderError.
func Check(r io.Reader, opts Options) (*CheckResult, error) {
	h := sha256.New()
	rd, err := NewReader(io.TeeReader(r, h), opts)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{}
	for {
		_, probs, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		res.Rows++
		if len(probs) == 0 {
			res.Valid++
			continue
		}
		res.Invalid++
		for _, p := range probs {
			if len(res.Problems) < MaxProblems {
				res.Problems = append(res.Problems, p)
			} else {
				res.Dropped++
			}
		}
	}
	// The CSV reader may stop short of the end (trailing blank lines);
	// the digest covers every byte.
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	copy(res.Digest[:], h.Sum(nil))
	return res, nil
}
