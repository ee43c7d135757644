package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/medplumcli/medplum/client"
)

// TimeoutEnv is the environment variable of --timeout.
const TimeoutEnv = "MEDPLUM_TIMEOUT"

// timeoutFlag is the global flag that bounds each request.
const timeoutFlag = "timeout"

func addTimeoutFlag(fs *pflag.FlagSet) {
	fs.Var(new(durationText), timeoutFlag, fmt.Sprintf("how long to wait for the server, e.g. 90s; 0 waits forever (default %ds)",
		client.DefaultTimeout/time.Second))
}

// RequestTimeout is how long a request waits for the server (for its
// answer, and between two parts of the answer): --timeout, else
// MEDPLUM_TIMEOUT, else client.DefaultTimeout. A Go duration ("90s", "2m")
// or a number of seconds; 0 means no limit. flags may be nil.
func RequestTimeout(flags *pflag.FlagSet, getenv func(string) string) (time.Duration, error) {
	if flags != nil {
		if fl := flags.Lookup(timeoutFlag); fl != nil && fl.Changed {
			return parseTimeout("--"+timeoutFlag, fl.Value.String())
		}
	}
	if v := getenv(TimeoutEnv); v != "" {
		return parseTimeout(TimeoutEnv, v)
	}
	return client.DefaultTimeout, nil
}

func parseTimeout(what, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	bad := &Error{Msg: fmt.Sprintf("%s %q: want a duration such as 90s or 2m, or a number of seconds; 0 waits forever", what, v)}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, bad
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}

// durationText is a flag value kept as typed (RequestTimeout checks it,
// with the same words as for the environment variable); its help says
// "duration".
type durationText string

func (d *durationText) String() string     { return string(*d) }
func (d *durationText) Set(v string) error { *d = durationText(v); return nil }
func (d *durationText) Type() string       { return "duration" }
