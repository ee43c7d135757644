package bulk

import (
	"time"

	"github.com/medplumcli/medplum/commands/internal/bulkengine"
)

// DefaultOutage is how long a run waits for a server that stopped
// answering before it stops (RunConfig.Outage 0).
const DefaultOutage = bulkengine.DefaultOutage

// UnreachableError stops a run whose server stayed unreachable (see
// bulkengine.UnreachableError). Rows that finished are in the journal; rows
// on their way stay "started" there, to be looked up by the next run; rows
// not sent yet stay unsent. None of them is called failed.
type UnreachableError = bulkengine.UnreachableError

// observe feeds a request's outcome to the run's health watch (invites,
// lookups, marks), which stops the run when the server has not answered
// for the whole of the outage bound.
func (r *runner) observe(start time.Time, err error) { r.run.Observe(start, err) }
