package medplumtest_test

import (
	"net/http"
	"net/url"
)

// reviewSteps replay the captures the access review (issue 11) reads:
// what a project admin and a super admin see of a member's User and
// UserSecurityRequests (140-146), Login refused to a project admin (159,
// 159b), and auth/resetpassword (164-168). They work in the project of 13
// as its test client (14, an admin since 21).
func reviewSteps() []step {
	var serverUser, scopedUser, scopedEmail string
	usr := func(tok, user string) func(e *contractEnv) *http.Response {
		return func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/UserSecurityRequest?user=" + url.QueryEscape(user), bearer(tok), ""})
		}
	}
	reset := func(body string) func(e *contractEnv) *http.Response {
		return func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "auth/resetpassword", map[string]string{"Content-Type": "application/json"}, body})
		}
	}
	return []step{
		{name: "140-invite-member", run: func(e *contractEnv) *http.Response {
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", bearerJSON(e.tcTok),
				`{"resourceType":"Practitioner","firstName":"Cap","lastName":"Review","email":"cap-review@example.com","sendEmail":false}`})
		}, after: func(e *contractEnv, b map[string]any) {
			serverUser = b["user"].(map[string]any)["reference"].(string)
		}},
		{name: "141-usr-search-as-project-admin", run: func(e *contractEnv) *http.Response {
			return usr(e.tcTok, serverUser)(e)
		}},
		{name: "142-usr-search-as-superadmin", run: func(e *contractEnv) *http.Response {
			return usr(e.saTok, serverUser)(e)
		}},
		{name: "143-user-read-as-project-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + serverUser, bearer(e.tcTok), ""})
		}},
		{name: "143b-user-read-as-superadmin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + serverUser, bearer(e.saTok), ""})
		}},
		{name: "144-invite-project-scoped", run: func(e *contractEnv) *http.Response {
			scopedEmail = "cap-review-scoped@example.com"
			return e.do(req{"POST", "admin/projects/" + e.pid + "/invite", bearerJSON(e.tcTok),
				`{"resourceType":"Practitioner","firstName":"Cap","lastName":"Scoped","email":"` + scopedEmail + `","sendEmail":false,"scope":"project"}`})
		}, after: func(e *contractEnv, b map[string]any) {
			scopedUser = b["user"].(map[string]any)["reference"].(string)
		}},
		{name: "145-usr-search-project-scoped", run: func(e *contractEnv) *http.Response {
			return usr(e.tcTok, scopedUser)(e)
		}},
		{name: "146-user-read-project-scoped", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/" + scopedUser, bearer(e.tcTok), ""})
		}},
		{name: "159-login-search-as-project-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Login?user=" + url.QueryEscape(scopedUser), bearer(e.tcTok), ""})
		}},
		{name: "159b-login-search-all-as-project-admin", run: func(e *contractEnv) *http.Response {
			return e.do(req{"GET", "fhir/R4/Login?_count=5", bearer(e.tcTok), ""})
		}},
		{name: "164-resetpassword-project-scoped", run: func(e *contractEnv) *http.Response {
			return reset(`{"email":"` + scopedEmail + `","projectId":"` + e.pid + `"}`)(e)
		}},
		{name: "165-resetpassword-server-scoped", run: reset(`{"email":"cap-review@example.com"}`)},
		{name: "166-resetpassword-unknown-email", run: reset(`{"email":"cap-nobody@example.com"}`)},
		{name: "167-resetpassword-invalid-email", run: reset(`{"email":"not-an-email"}`)},
		{name: "168-usr-after-resetpassword", run: func(e *contractEnv) *http.Response {
			return usr(e.tcTok, scopedUser)(e)
		}},
	}
}
