package client

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestParseRateLimit(t *testing.T) {
	h := http.Header{}
	h.Add("RateLimit", `"requests";r=59980;t=29`)
	h.Add("RateLimit", `"fhirInteractions";r=0;t=60`)
	got := ParseRateLimit(h)
	want := []RateLimit{{"requests", 59980, 29 * time.Second}, {"fhirInteractions", 0, 60 * time.Second}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseRateLimit = %+v, want %+v", got, want)
	}
	if w := RateLimitWait(h); w != 60*time.Second {
		t.Errorf("RateLimitWait = %s, want 1m", w)
	}

	cases := map[string]time.Duration{
		`"requests";r=0;t=35`:                              35 * time.Second,
		`"requests";r=1;t=35`:                              0,
		`"requests";r=0;t=5, "fhirInteractions";r=0;t=12`:  12 * time.Second,
		`"requests";r=0;t=5, "fhirInteractions";r=10;t=12`: 5 * time.Second,
		` requests ; r=0 ; t=0.25 `:                        250 * time.Millisecond,
		`"requests";t=9`:                                   0, // no r
		`"requests";r=0`:                                   0, // no t
		`"requests";r=0;t=-3`:                              0,
		`"requests";r=zero;t=3`:                            0,
		`garbage`:                                          0,
		``:                                                 0,
	}
	for v, want := range cases {
		if got := RateLimitWait(http.Header{"Ratelimit": {v}}); got != want {
			t.Errorf("RateLimitWait(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestBackoffFullJitterBounds(t *testing.T) {
	p := RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: 1 * time.Second}
	for n, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 80: time.Second} {
		var maxSeen time.Duration
		distinct := map[time.Duration]bool{}
		for range 2000 {
			d := p.Backoff(n)
			if d < 0 || d > ceiling {
				t.Fatalf("Backoff(%d) = %s, outside [0, %s]", n, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
			distinct[d] = true
		}
		// Full jitter spreads over the whole range, not a fixed step.
		if maxSeen < ceiling/2 || len(distinct) < 100 {
			t.Errorf("Backoff(%d): max %s over 2000 draws, %d distinct values; not full jitter up to %s", n, maxSeen, len(distinct), ceiling)
		}
	}
}

func TestRetryPolicyDefaults(t *testing.T) {
	if got := (RetryPolicy{}).withDefaults(); got != DefaultRetryPolicy {
		t.Errorf("zero policy = %+v", got)
	}
	got := RetryPolicy{MaxAttempts: 1}.withDefaults()
	if got.MaxAttempts != 1 || got.MaxElapsed != DefaultRetryPolicy.MaxElapsed {
		t.Errorf("MaxAttempts 1 = %+v", got)
	}
}

func TestSafeToRepeat(t *testing.T) {
	for m, want := range map[string]bool{"": true, "GET": true, "head": true, "PUT": true, "DELETE": true, "POST": false, "PATCH": false} {
		if got := safeToRepeat(&Request{Method: m}); got != want {
			t.Errorf("safeToRepeat(%q) = %v", m, got)
		}
	}
	if !safeToRepeat(&Request{Method: "POST", Idempotent: true}) {
		t.Error("an Idempotent POST is safe to repeat")
	}
}
