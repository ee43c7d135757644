package medplumtest

import (
	"encoding/json"
	"net/http"

	"github.com/medplumcli/medplum/client"
)

// OperationOutcomes as @medplum/core builds them (packages/core/src/outcomes.ts).

func outcome(id, severity, code, text string) *client.OperationOutcome {
	return &client.OperationOutcome{
		ResourceType: "OperationOutcome",
		ID:           id,
		Issue: []client.OutcomeIssue{{
			Severity: severity,
			Code:     code,
			Details:  &client.CodeableConcept{Text: text},
		}},
	}
}

func allOk() *client.OperationOutcome {
	return outcome("ok", "information", "informational", "All OK")
}

func forbidden() *client.OperationOutcome {
	return outcome("forbidden", "error", "forbidden", "Forbidden")
}

func notFound() *client.OperationOutcome {
	return outcome("not-found", "error", "not-found", "Not found")
}

func gone() *client.OperationOutcome { return outcome("gone", "error", "deleted", "Gone") }

func unauthorized() *client.OperationOutcome {
	return outcome("unauthorized", "error", "login", "Unauthorized")
}

func preconditionFailed() *client.OperationOutcome {
	return outcome("precondition-failed", "error", "processing", "Precondition Failed")
}

func multipleMatches() *client.OperationOutcome {
	return outcome("multiple-matches", "error", "multiple-matches", "Multiple resources found matching condition")
}

// badRequest has no id, so its status is 400.
func badRequest(text string, expr ...string) *client.OperationOutcome {
	o := outcome("", "error", "invalid", text)
	o.Issue[0].Expression = expr
	return o
}

// structureError is a validation failure of a resource (code "structure").
func structureError(text string, expr ...string) *client.OperationOutcome {
	o := outcome("", "error", "structure", text)
	o.Issue[0].Expression = expr
	return o
}

// conflict is a 409; code "40001" marks a retryable serialization failure.
func conflict(text, code string) *client.OperationOutcome {
	o := outcome("conflict", "error", "conflict", text)
	if code != "" {
		o.Issue[0].Details.Coding = []client.Coding{{Code: code}}
	}
	return o
}

// serializationConflict is what a Postgres serialization failure becomes.
func serializationConflict() *client.OperationOutcome {
	return conflict("could not serialize access due to read/write dependencies among transactions", "40001")
}

// fieldError is one failed express-validator check.
type fieldError struct{ field, text string }

// invalidRequest is the 400 of express-validator errors: a random id and one
// issue per failed field (a oneOf group has no expression).
func invalidRequest(errs []fieldError) *client.OperationOutcome {
	o := &client.OperationOutcome{ResourceType: "OperationOutcome", ID: newID()}
	for _, e := range errs {
		is := client.OutcomeIssue{Severity: "error", Code: "invalid", Details: &client.CodeableConcept{Text: e.text}}
		if e.field != "" {
			is.Expression = []string{e.field}
		}
		o.Issue = append(o.Issue, is)
	}
	return o
}

// outcomeStatus maps an OperationOutcome to its HTTP status (getStatus).
func outcomeStatus(o *client.OperationOutcome) int {
	switch o.ID {
	case "ok":
		return http.StatusOK
	case "created":
		return http.StatusCreated
	case "accepted":
		return http.StatusAccepted
	case "not-modified":
		return http.StatusNotModified
	case "unauthorized":
		return http.StatusUnauthorized
	case "forbidden":
		return http.StatusForbidden
	case "not-found":
		return http.StatusNotFound
	case "conflict":
		return http.StatusConflict
	case "gone":
		return http.StatusGone
	case "precondition-failed", "multiple-matches":
		return http.StatusPreconditionFailed
	case "unsupported-media-type":
		return http.StatusUnsupportedMediaType
	case "too-many-requests":
		return http.StatusTooManyRequests
	case "server-timeout":
		return http.StatusGatewayTimeout
	}
	if len(o.Issue) > 0 && o.Issue[0].Code == "exception" {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// withTracing returns o with Medplum's tracing extension added.
func (c *reqCtx) withTracing(o *client.OperationOutcome) *client.OperationOutcome {
	cp := *o
	ext, _ := json.Marshal(map[string]any{
		"url": "https://medplum.com/fhir/StructureDefinition/tracing",
		"extension": []any{
			map[string]any{"url": "requestId", "valueId": c.reqID},
			map[string]any{"url": "traceId", "valueId": newID()},
		},
	})
	cp.Extension = []json.RawMessage{ext}
	return &cp
}

// sendOutcome answers with o as application/fhir+json (sendOutcome in
// fhir/outcomes.ts), its status derived from o.
func (c *reqCtx) sendOutcome(o *client.OperationOutcome) {
	c.fhir(outcomeStatus(o), c.withTracing(o))
}

// oauthError answers with an RFC 6749 error body.
func (c *reqCtx) oauthError(status int, code, description string) {
	c.json(status, map[string]string{"error": code, "error_description": description})
}
