package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"groupsync/cli"
	"groupsync/sandbox"
)

// Each finding of the attack on the operations that destroy or replace
// something on the service, as a case that shows it refused or survived.

// tree is org with a department and a team below it, and one more root.
const tree = `
- {id: org, name: Org}
- {id: dept, name: Dept, hierarchy_level_name: Department, parent_provided_id: org}
- {id: team, name: Team, hierarchy_level_name: Team, parent_provided_id: dept}
- {id: other, name: Other}
`

func applied(t *testing.T, manifest string, cfg sandbox.Config) *env {
	t.Helper()
	e := newEnv(t, cfg)
	e.api = "customer"
	m := e.write("m0.yaml", manifest)
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("first apply: exit %d\n%s", code, stderr)
	}
	e.sb.ResetStats()
	return e
}

// noChange holds that a refused run called nothing that changes anything.
func noChange(t *testing.T, e *env) {
	t.Helper()
	for _, r := range e.sb.Requests() {
		if r.Method != "GET" && r.Path != "/api/get_customer/" {
			t.Errorf("a refused plan called %s %s", r.Method, r.Path)
		}
	}
}

// A manifest drops x and adds a new customer below it: the plan is refused,
// before the create, under both revisions of delete.
func TestPrune_NewChildOfAPrunedParentIsRefused(t *testing.T) {
	for _, mode := range sandbox.DeleteModes {
		t.Run(string(mode), func(t *testing.T) {
			e := applied(t, tree, sandbox.Config{DeleteChildren: mode})
			m := e.write("m1.yaml", "- {id: other, name: Other}\n- {id: c, name: C, hierarchy_level_name: Department, parent_provided_id: org}\n")
			_, stderr, code := e.run("apply", "-f", m, "--prune")
			if code != 1 || !strings.Contains(stderr, `deleting "org" would also delete "c", which the manifests want`) {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			noChange(t, e)
		})
	}
}

// A wanted customer moved below a pruned orphan: refused, with and
// without a refresh, so the move and the delete cannot race.
func TestPrune_MoveBelowAPrunedParentIsRefused(t *testing.T) {
	for _, refresh := range []bool{false, true} {
		t.Run(fmt.Sprint("refresh=", refresh), func(t *testing.T) {
			e := applied(t, tree+"- {id: x, name: X}\n", sandbox.Config{})
			m := e.write("m1.yaml", strings.Replace(tree, "parent_provided_id: org}", "parent_provided_id: x}", 1))
			args := []string{"apply", "-f", m, "--prune"}
			if refresh {
				args = append(args, "--refresh")
			}
			_, stderr, code := e.run(args...)
			if code != 1 || !strings.Contains(stderr, `deleting "x" would also delete "dept", which the manifests want`) {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			noChange(t, e)
		})
	}
}

// --only never narrows what a delete is checked against: the child the
// manifests want stops the delete of its parent even when --only leaves
// the child out.
func TestPrune_OnlyNeverNarrowsTheCheck(t *testing.T) {
	e := applied(t, tree, sandbox.Config{})
	m := e.write("m1.yaml", "- {id: team, name: Team, hierarchy_level_name: Team, parent_provided_id: dept}\n- {id: other, name: Other}\n")
	_, stderr, code := e.run("apply", "-f", m, "--prune", "--only", "dept")
	if code != 1 || !strings.Contains(stderr, `deleting "dept" would also delete "team", which the manifests want`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// An owned orphan below, left out by --only, stops it too.
	m = e.write("m2.yaml", "- {id: other, name: Other}\n")
	_, stderr, code = e.run("apply", "-f", m, "--prune", "--only", "org,dept")
	if code != 1 || !strings.Contains(stderr, `deleting "dept" would also delete "team", which --only leaves out`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	noChange(t, e)
}

// An owned orphan whose child was made in Explo's UI is not deleted, under
// either revision, and the plan says so before any call, naming both.
// Every customer a delete may take is a change of --max-changes.
func TestPrune_NeverTakesACustomerItDoesNotOwn(t *testing.T) {
	for _, mode := range sandbox.DeleteModes {
		t.Run(string(mode), func(t *testing.T) {
			e := applied(t, tree, sandbox.Config{DeleteChildren: mode})
			e.sb.Put(sandbox.Group{ID: "made-in-ui", Name: "UI", Level: "Team", Parent: "dept"})
			m := e.write("m1.yaml", "- {id: other, name: Other}\n")
			_, stderr, code := e.run("apply", "-f", m, "--prune", "--refresh")
			if code != 1 || !strings.Contains(stderr, `deleting "dept" would also delete "made-in-ui", which this state does not own (it was made elsewhere)`) ||
				!strings.Contains(stderr, `deleting "org" would also delete "made-in-ui"`) {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			noChange(t, e)
			e.sb.Delete("made-in-ui")
			_, stderr, code = e.run("apply", "-f", m, "--prune", "--max-changes", "2")
			if code != 1 || !strings.Contains(stderr, "the plan has 3 changes") {
				t.Fatalf("a cascade of three under --max-changes 2: exit %d\n%s", code, stderr)
			}
			if _, stderr, code := e.run("apply", "-f", m, "--prune", "--max-changes", "3"); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if got := len(e.sb.Groups()); got != 1 || e.sb.Stats().Deletes != 3 {
				t.Errorf("left %d customers after %d deletes, want other alone after 3", got, e.sb.Stats().Deletes)
			}
		})
	}
}

// A customer found existing is adopted, marked so in the plan, and kept by
// --prune unless --prune-adopted.
func TestPrune_AdoptedNeedsPruneAdopted(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	e.api = "customer"
	e.sb.Put(sandbox.Group{ID: "found", Name: "Found"})
	m := e.write("m0.yaml", "- {id: found, name: Found}\n- {id: made, name: Made}\n")
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	empty := e.write("m1.yaml", "- {id: other, name: Other}\n")
	stdout, stderr, code := e.run("plan", "-f", empty, "--prune")
	if code != 0 || !strings.Contains(stdout, "  ! orphan found  (in the state, in no manifest: adopted, not created by groupsync, so kept; --prune-adopted deletes it)") ||
		!strings.Contains(stdout, "  - delete made\n") {
		t.Fatalf("plan: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, _, _ = e.run("plan", "-f", empty, "--prune", "--prune-adopted")
	if !strings.Contains(stdout, "  - delete found  (adopted: it was found existing, not created by groupsync)") {
		t.Errorf("plan --prune-adopted:\n%s", stdout)
	}
	if _, stderr, code := e.run("apply", "-f", empty, "--prune"); code != 0 || e.sb.Groups()["found"].Name == "" || e.sb.Groups()["made"].Name != "" {
		t.Fatalf("apply --prune: exit %d\n%s", code, stderr)
	}
}

// A token changed in Explo's UI — rotated there, or the customer deleted
// and made again by someone else — is learnt, never taken for "gone", and
// makes the customer adopted: --prune keeps it and says why, and
// --prune-adopted deletes it with the service's token. With --refresh the
// list's token, confirmed by reading the customer, is learnt from the
// start.
func TestPrune_ChangedTokenIsLearntNotTakenForGone(t *testing.T) {
	for _, refresh := range []bool{false, true} {
		t.Run(fmt.Sprint("refresh=", refresh), func(t *testing.T) {
			e := applied(t, "- {id: a, name: A}\n- {id: b, name: B}\n", sandbox.Config{})
			changed := strings.Repeat("9", 48)
			e.sb.Change("b", func(g *sandbox.Group) { g.Token = changed })
			m := e.write("m1.yaml", "- {id: a, name: A}\n")
			args := []string{"apply", "-f", m, "--prune"}
			if refresh {
				args = append(args, "--refresh")
			}
			_, stderr, code := e.run(args...)
			if _, ok := e.sb.Groups()["b"]; !ok || e.sb.Stats().Deletes != 0 {
				t.Fatalf("b, whose token changed outside groupsync, was deleted: exit %d\n%s", code, stderr)
			}
			if stateTokens(t, e)["b"] != changed {
				t.Errorf("the state did not learn b's token")
			}
			if !refresh && (code != 3 || !strings.Contains(stderr, "counts as adopted now")) {
				t.Errorf("exit %d\n%s", code, stderr)
			}
			if refresh && (code != 0 || !strings.Contains(e.report()[1]["action"], "orphan")) {
				t.Errorf("exit %d, report %v\n%s", code, e.report(), stderr)
			}
			if _, stderr, code := e.run(append(args, "--prune-adopted")...); code != 0 {
				t.Fatalf("--prune-adopted: exit %d\n%s", code, stderr)
			}
			if _, ok := e.sb.Groups()["b"]; ok {
				t.Error("--prune-adopted kept b")
			}
		})
	}
}

// A list that leaves a customer out and gives its token to one the state
// knows (which would then be recorded, embedded, and deleted by a later
// prune) is caught by reading that customer: the run stops, nothing is
// recorded.
func TestRefresh_ListGivingAnotherCustomersTokenIsCaught(t *testing.T) {
	e := applied(t, "- {id: keep, name: Keep}\n- {id: x, name: X}\n", sandbox.Config{})
	e.sb.Put(sandbox.Group{ID: "hidden", Name: "Made elsewhere"})
	hidden := e.sb.Groups()["hidden"].Token
	var served atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/api/customers/" || r.URL.Query().Get("parent_provided_id") != "" || served.Add(1) > 1 {
			e.sb.ServeHTTP(w, r)
			return
		}
		var customers []map[string]any
		for id, g := range e.sb.Groups() {
			if id == "hidden" {
				continue
			}
			tok := g.Token
			if id == "keep" {
				tok = hidden
			}
			customers = append(customers, map[string]any{"provided_id": id, "name": g.Name, "token": tok, "access_group": g.AccessGroup,
				"hierarchy_level": g.Level, "is_demo_group": false, "emails": []string{}, "group_tags": []string{}, "properties": map[string]any{},
				"parent_schema_datasource_mapping": map[string]any{}})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"success": 1, "total_count": len(customers), "results": map[string]any{"customers": customers}})
	}))
	t.Cleanup(ts.Close)
	direct := e.url
	e.url = ts.URL
	saved, _ := os.ReadFile(e.path("state.json"))
	_, stderr, code := e.run("apply", "-f", e.path("m0.yaml"), "--refresh", "--rebind")
	if code != 1 || !strings.Contains(stderr, `it gives "keep" a token that reading the customer does not show`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if now, _ := os.ReadFile(e.path("state.json")); string(now) != string(saved) {
		t.Error("the state changed")
	}
	e.url = direct
	m := e.write("m1.yaml", "- {id: x, name: X}\n")
	if _, stderr, code := e.run("apply", "-f", m, "--prune"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, ok := e.sb.Groups()["hidden"]; !ok {
		t.Error("hidden, made elsewhere, was deleted")
	}
}

// A state whose token for a customer is another customer's (a lying list
// adopted, a hand edit) deletes and rotates neither: each reads the
// customer first, and the token it would send must be the customer's own.
func TestPrune_WrongTokenInTheStateTakesNobody(t *testing.T) {
	e := applied(t, "- {id: x, name: X}\n- {id: y, name: Y}\n", sandbox.Config{})
	e.sb.Put(sandbox.Group{ID: "ui", Name: "Made in the UI"})
	uiToken := e.sb.Groups()["ui"].Token
	data, _ := os.ReadFile(e.path("state.json"))
	data = []byte(strings.Replace(string(data), e.sb.Groups()["x"].Token, uiToken, 1))
	os.WriteFile(e.path("state.json"), data, 0o600)
	m := e.write("m1.yaml", "- {id: y, name: Y}\n")
	_, stderr, code := e.run("apply", "-f", m, "--prune")
	if code != 3 || !strings.Contains(stderr, "counts as adopted now") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if _, stderr, code := e.run("rotate", "--only", "x"); code != 0 {
		t.Errorf("rotate: exit %d\n%s", code, stderr)
	}
	groups := e.sb.Groups()
	if _, ok := groups["ui"]; !ok || groups["ui"].Token != uiToken || groups["x"].Name == "" || e.sb.Stats().Rotations != 1 {
		t.Fatalf("ui %+v; x %+v; %d rotations", groups["ui"], groups["x"], e.sb.Stats().Rotations)
	}
	checkStateTruthful(t, e)
}

// A rotation after the token was rotated outside groupsync rotates the
// service's current token: the one that may have leaked stops working.
func TestRotate_AfterARotationElsewhereRotatesTheCurrentToken(t *testing.T) {
	e := applied(t, "- {id: a, name: A}\n", sandbox.Config{})
	leaked := strings.Repeat("7", 48)
	e.sb.Change("a", func(g *sandbox.Group) { g.Token = leaked })
	if _, stderr, code := e.run("rotate", "--only", "a"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	now := e.sb.Groups()["a"].Token
	if now == leaked || e.sb.Stats().Rotations != 1 || stateTokens(t, e)["a"] != now {
		t.Errorf("the leaked token still works: rotated %d times", e.sb.Stats().Rotations)
	}
}

// A rename the service refused (the new id is another customer's), whose
// answer was lost, is learnt as not renamed: the next run goes on.
func TestRename_RefusedWithItsAnswerLostIsSettled(t *testing.T) {
	e := applied(t, "- {id: old, name: Old}\n", sandbox.Config{})
	e.sb.Put(sandbox.Group{ID: "new", Name: "Made in the UI"})
	m := e.write("m1.yaml", "- {id: new, name: Old, previous_provided_id: old}\n")
	// The plan cannot see the clash without a refresh; the service
	// refuses the rename, and the answer is lost.
	e.sb.LoseAnswers("/api/update_customer/", 1)
	_, stderr, code := e.run("apply", "-f", m)
	if code != 3 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	_, stderr, code = e.run("apply", "-f", e.path("m0.yaml"))
	if code != 0 || !strings.Contains(stderr, `it was not renamed: "new" is another customer's id`) {
		t.Fatalf("the next run: exit %d\n%s", code, stderr)
	}
	if _, stderr, _ := e.run("plan", "-f", e.path("m0.yaml")); strings.Contains(stderr, "warning") {
		t.Errorf("the intent was not settled:\n%s", stderr)
	}
}

// A rename onto an id another customer holds: with the list, the plan
// refuses it before any call; without, the service refuses it, and the
// report keeps the customer at its old id with the token it still has
// (the new id is another customer's).
func TestRename_OntoAnotherCustomerKeepsTheToken(t *testing.T) {
	e := applied(t, "- {id: old, name: Old}\n", sandbox.Config{})
	token := e.sb.Groups()["old"].Token
	e.sb.Put(sandbox.Group{ID: "new", Name: "Made in the UI"})
	m := e.write("m1.yaml", "- {id: new, name: Old, previous_provided_id: old}\n")
	e.sb.ResetStats()
	_, stderr, code := e.run("apply", "-f", m, "--refresh")
	if code != 1 || !strings.Contains(stderr, `m1.yaml:1: previous_provided_id: cannot rename "old" to "new": the service holds a customer "new" already`) {
		t.Fatalf("apply --refresh: exit %d\n%s", code, stderr)
	}
	noChange(t, e)
	if _, stderr, code := e.run("apply", "-f", m); code != 3 {
		t.Fatalf("apply: exit %d\n%s", code, stderr)
	}
	rows := e.report()
	if len(rows) != 1 || rows[0]["user_group_id"] != "old" || rows[0]["status"] != "failed" || rows[0]["token"] != token {
		t.Errorf("report %v, want the failed rename under the old id, with its token", rows)
	}
}

// A rotation whose answer is lost after the service rotated is learnt in
// the same run by reading the customer: the new token is recorded, and
// the old, dead one is never sent again.
func TestRotate_LostAnswerIsLearnt(t *testing.T) {
	e := applied(t, "- {id: a, name: A}\n- {id: b, name: B}\n", sandbox.Config{})
	old := e.sb.Groups()["a"].Token
	e.sb.LoseAnswers("/api/refresh_customer_token/", 1)
	_, stderr, code := e.run("rotate", "--only", "a")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	now := e.sb.Groups()["a"].Token
	if now == old || stateTokens(t, e)["a"] != now || e.sb.Stats().Rotations != 1 {
		t.Errorf("rotations %d; the state holds the new token: %v", e.sb.Stats().Rotations, stateTokens(t, e)["a"] == now)
	}
	checkReportMatchesSandbox(t, e, 2)
}

// A rotation whose outcome is not known can be learnt only with the
// Customer API: an apply with the End User Group API is refused before any
// call, rather than report a token the rotation may have killed as fine.
// With the Customer API, the same apply learns it and records it.
func TestRotate_UnknownOutcomeRefusesTheUserGroupAPI(t *testing.T) {
	e := applied(t, "- {id: a, name: A}\n- {id: b, name: B}\n", sandbox.Config{})
	e.sb.LoseAnswers("/api/refresh_customer_token/", 1)
	if _, stderr, code := e.run("rotate", "--only", "a", "--max-attempts", "1"); code != 3 {
		t.Fatalf("rotate: exit %d, want 3\n%s", code, stderr)
	}
	e.sb.ResetStats()
	e.api = "user-group"
	_, stderr, code := e.run("apply", "-f", e.path("m0.yaml"))
	if code != 1 || e.sb.Stats().Requests != 0 || !strings.Contains(stderr, `the rotate of "a" by an earlier run did not finish`) || !strings.Contains(stderr, "--api customer") {
		t.Fatalf("apply --api user-group: exit %d, %d calls\n%s", code, e.sb.Stats().Requests, stderr)
	}
	e.api = "customer"
	// Nothing that does not learn it shows the state's token as held: a
	// dry run's report leaves it out, and the plan counts a change.
	if _, stderr, code := e.run("apply", "-f", e.path("m0.yaml"), "--dry-run"); code != 0 {
		t.Fatalf("apply --dry-run: exit %d\n%s", code, stderr)
	}
	for _, r := range e.report() {
		if r["user_group_id"] == "a" && (r["token"] != "" || r["status"] != "skipped" || !strings.Contains(r["error"], "not known yet")) {
			t.Errorf("the dry run reports %v", r)
		}
	}
	if _, stderr, code := e.run("plan", "-f", e.path("m0.yaml"), "--detailed-exitcode"); code != 2 {
		t.Errorf("plan --detailed-exitcode: exit %d, want 2: the next apply changes the state\n%s", code, stderr)
	}
	if _, stderr, code := e.run("apply", "-f", e.path("m0.yaml")); code != 0 {
		t.Fatalf("apply --api customer: exit %d\n%s", code, stderr)
	}
	checkReportMatchesSandbox(t, e, 2)
	checkStateTruthful(t, e)
}

// --only names a rename by either of its ids.
func TestRename_OnlyTheOldID(t *testing.T) {
	e := applied(t, "- {id: a, name: A}\n- {id: b, name: B}\n", sandbox.Config{})
	token := e.sb.Groups()["a"].Token
	m := e.write("m1.yaml", "- {id: x, name: A, previous_provided_id: a}\n- {id: b, name: B}\n")
	if _, stderr, code := e.run("apply", "-f", m, "--only", "a"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	rows := e.report()
	if g, ok := e.sb.Groups()["x"]; !ok || g.Token != token || len(rows) != 1 || rows[0]["user_group_id"] != "x" || rows[0]["action"] != "rename" {
		t.Errorf("service %v, report %v; want a renamed to x with its token", e.sb.Groups(), rows)
	}
}

// When the state cannot be written after a rotation, the new token is not
// claimed to be held; the next run learns it from the service first.
func TestRotate_UnwritableStateIsLearntNextRun(t *testing.T) {
	e := applied(t, "- {id: a, name: A}\n", sandbox.Config{})
	if err := os.MkdirAll(filepath.Join(e.path("state.json.backup"), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := e.run("rotate", "--only", "a")
	if code != 3 || strings.Contains(stderr, "holds every token") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	os.RemoveAll(e.path("state.json.backup"))
	// The journal holds what the state could not: a plan reads it.
	if _, stderr, code := e.run("plan", "-f", e.path("m0.yaml"), "--detailed-exitcode"); code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	checkStateTruthful(t, e)
}

// The same id typed in two Unicode forms is one id: a manifest with "café"
// decomposed is the state's precomposed "café", unchanged.
func TestIDs_OneFormEverywhere(t *testing.T) {
	e := applied(t, "- {id: \"caf\u00e9\", name: Cafe}\n", sandbox.Config{})
	m := e.write("m1.yaml", "- {id: \"cafe\u0301\", name: Cafe}\n")
	stdout, stderr, code := e.run("plan", "-f", m, "--prune", "--detailed-exitcode")
	if code != 0 || !strings.Contains(stdout, "0 to create, 0 to update, 1 unchanged, 0 orphaned") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}

// A hand-edited state in which two customers hold one token is refused
// before any call: a delete with that token could take the wanted one.
func TestState_TwinTokensAreRefused(t *testing.T) {
	e := applied(t, "- {id: a, name: A}\n- {id: b, name: B}\n", sandbox.Config{})
	data, _ := os.ReadFile(e.path("state.json"))
	var st map[string]any
	json.Unmarshal(data, &st)
	groups := st["groups"].(map[string]any)
	groups["b"].(map[string]any)["token"] = groups["a"].(map[string]any)["token"]
	data, _ = json.Marshal(st)
	os.WriteFile(e.path("state.json"), data, 0o600)
	m := e.write("m1.yaml", "- {id: a, name: A}\n")
	_, stderr, code := e.run("apply", "-f", m, "--prune")
	if code != 1 || !strings.Contains(stderr, `"a" and "b" hold the same token`) || len(e.sb.Requests()) != 0 {
		t.Fatalf("exit %d, %d calls\n%s", code, len(e.sb.Requests()), stderr)
	}
}

// A saved plan is checked as a manifest is, and applied exactly: an edited
// plan with a control character, a duplicate id, a space, scientific
// notation, twin Unicode forms or a cycle is refused, and so is one the
// service moved away from since (a rename in Explo's UI).
func TestSavedPlan_ValidatedAndAppliedExactly(t *testing.T) {
	e := applied(t, "- {id: a, name: A}\n- {id: b, name: B}\n", sandbox.Config{})
	m := e.write("m1.yaml", "- {id: a, name: A2}\n- {id: b, name: B}\n- {id: c, name: C}\n")
	if _, stderr, code := e.run("plan", "-f", m, "--refresh", "--out", e.path("plan.json")); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	saved, _ := os.ReadFile(e.path("plan.json"))
	for _, tt := range []struct{ name, from, to, want string }{
		{"Escape", `"name": "A2"`, `"name": "A2\u001b[2J"`, `name: "A2\x1b[2J" holds the control character U+001B`},
		{"LineBreak", `"name": "A2"`, `"name": "ok\ngroupsync: c: create ok"`, `holds the control character U+000A`},
		{"Duplicate", `"user_group_id": "c"`, `"user_group_id": "b"`, `duplicate id "b"`},
		{"Space", `"user_group_id": "c"`, `"user_group_id": "c "`, `has leading or trailing spaces`},
		{"Scientific", `"user_group_id": "c"`, `"user_group_id": "1.23457E+11"`, `scientific notation`},
		{"Twins", `"user_group_id": "c"`, `"user_group_id": "cafe\u0301"`, ``},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edited := strings.Replace(strings.ReplaceAll(string(saved), `": "`, `": "`), tt.from, tt.to, 1)
			if edited == string(saved) {
				t.Fatalf("the plan file has no %s", tt.from)
			}
			if tt.name == "Twins" {
				edited = strings.Replace(edited, `"user_group_id": "b"`, `"user_group_id": "caf\u00e9"`, 1)
				tt.want = `duplicate id "café"`
			}
			p := e.write("edited.json", edited)
			e.sb.ResetStats()
			_, stderr, code := e.run("apply", "--plan", p)
			if code != 1 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "edited.json: ") {
				t.Fatalf("exit %d, want 1 and %q\n%s", code, tt.want, stderr)
			}
			noChange(t, e)
		})
	}
	e.sb.Change("b", func(g *sandbox.Group) { g.Name = "Renamed in the UI" })
	e.sb.ResetStats()
	_, stderr, code := e.run("apply", "--plan", e.path("plan.json"))
	if code != 1 || !strings.Contains(stderr, "run plan again") || !strings.Contains(stderr, `now, not in the plan: update "b"`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	noChange(t, e)
	if _, stderr, code := e.run("plan", "-f", m, "--refresh", "--out", e.path("plan.json")); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, stderr, code := e.run("apply", "--plan", e.path("plan.json")); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}

// A cycle of parents in an edited plan is refused, not waited on.
func TestSavedPlan_CycleIsRefused(t *testing.T) {
	e := applied(t, "- {id: p, name: P}\n", sandbox.Config{})
	m := e.write("m1.yaml", "- {id: p, name: P}\n- {id: q, name: Q, hierarchy_level_name: Department, parent_provided_id: p}\n")
	if _, stderr, code := e.run("plan", "-f", m, "--out", e.path("plan.json")); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	saved, _ := os.ReadFile(e.path("plan.json"))
	edited := strings.Replace(string(saved), `"user_group_id": "p",`, `"user_group_id": "p", "parent_provided_id": "q", "hierarchy_level_name": "Team",`, 1)
	if edited == string(saved) {
		t.Fatalf("unexpected plan file:\n%s", saved)
	}
	p := e.write("cycle.json", edited)
	_, stderr, code := e.run("apply", "--plan", p, "--stall-timeout", "0")
	if code != 1 || !strings.Contains(stderr, "the parents form a cycle") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
}

// A refused token or a redirect that comes after changes were made stops
// the run with exit 3, not 1: exit 1 would promise that nothing changed.
func TestApply_StopAfterChangesIsExit3(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request)
		want   string
	}{
		{"Unauthorized", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"detail": "Invalid token."}`)
		}, "the service refused the API token"},
		{"Redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.invalid"+r.URL.Path, http.StatusTemporaryRedirect)
		}, "never follows a redirect"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			var served atomic.Int32
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if served.Add(1) > 2 {
					tt.answer(w, r)
					return
				}
				e.sb.ServeHTTP(w, r)
			}))
			t.Cleanup(ts.Close)
			e.url = ts.URL
			m := e.write("m.csv", customers(10, nil, nil))
			_, stderr, code := e.run("apply", "-f", m, "--concurrency", "1")
			if code != 3 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, want 3\n%s", code, stderr)
			}
			if got := len(e.sb.Groups()); got != 2 {
				t.Errorf("%d customers made before the stop, want 2", got)
			}
		})
	}
}

// A rotation killed after the service rotated leaves an intent: state and
// plan say the outcome is not known yet, and the next apply learns it
// first, saying so, with the new token recorded.
func TestRotate_KilledRunIsLearntFirst(t *testing.T) {
	e := applied(t, "- {id: a, name: A}\n", sandbox.Config{})
	if !killAt(t, e, 0, true, "rotate", "--only", "a") {
		t.Fatal("the run ended before the kill")
	}
	if e.sb.Stats().Rotations != 1 || stateTokens(t, e)["a"] == e.sb.Groups()["a"].Token {
		t.Fatal("the kill did not lose the rotation's answer")
	}
	for _, args := range [][]string{{"state", "list", "--state", e.path("state.json")}, {"plan", "-f", e.path("m0.yaml")}} {
		_, stderr, code := e.run(args...)
		if code != 0 || !strings.Contains(stderr, `warning: the rotate of "a" by an earlier run did not finish, and its outcome is not known yet`) {
			t.Errorf("%v: exit %d\n%s", args[0], code, stderr)
		}
	}
	_, stderr, code := e.run("apply", "-f", e.path("m0.yaml"))
	if code != 0 || !strings.Contains(stderr, `the rotate of "a" by an earlier run did not finish: it was rotated: the new token is recorded`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	checkStateTruthful(t, e)
	if _, stderr, _ := e.run("plan", "-f", e.path("m0.yaml")); strings.Contains(stderr, "warning") {
		t.Errorf("the intent was not settled:\n%s", stderr)
	}
}

// A service that holds a token in a field — the API token in a property, a
// customer's token as another's name — gets neither onto stdout: not in
// the plan in any form, not in the state's show.
func TestSecrets_NeverOnStdoutFromTheService(t *testing.T) {
	e := applied(t, "- {id: a, name: A, properties: {p: 1}}\n- {id: b, name: B}\n", sandbox.Config{})
	bToken := e.sb.Groups()["b"].Token
	e.sb.Change("a", func(g *sandbox.Group) {
		g.Name = "named " + bToken
		g.Properties = json.RawMessage(`{"p": "` + testToken + `"}`)
	})
	for _, format := range [][]string{{}, {"--json"}, {"--format", "markdown"}} {
		args := append([]string{"plan", "-f", e.path("m0.yaml"), "--refresh"}, format...)
		stdout, stderr, code := e.run(args...)
		if code != 0 || !strings.Contains(stdout, "[redacted]") {
			t.Fatalf("%v: exit %d\n%s%s", format, code, stdout, stderr)
		}
		for _, secret := range []string{bToken, testToken} {
			if strings.Contains(stdout, secret) || strings.Contains(stderr, secret) {
				t.Errorf("%v: a token on the screen:\n%s", format, stdout)
			}
		}
	}
}

// What would keep a run from ending or from reporting is refused before
// any call: a token file that never ends, a report path that is a folder.
func TestApply_BadInputsAreRefusedBeforeAnyCall(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("m.csv", customers(2, nil, nil))
	run := func(args ...string) (string, int) {
		var stderr strings.Builder
		code := cli.Main(context.Background(), append([]string{"apply", "-f", m, "--api-url", e.url, "--state", e.path("state.json")}, args...),
			cli.IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }})
		return stderr.String(), code
	}
	big := e.write("big-token", strings.Repeat("a", 20<<10))
	stderr, code := run("--token-file", big)
	if code != 1 || !strings.Contains(stderr, "holds more than 16 KiB: not a token") {
		t.Errorf("a huge token file: exit %d\n%s", code, stderr)
	}
	os.MkdirAll(filepath.Join(e.path("folder.csv"), "x"), 0o700)
	stderr, code = run("--token-file", e.token, "--report", e.path("folder.csv"))
	if code != 1 || !strings.Contains(stderr, "is a folder") {
		t.Errorf("a report that is a folder: exit %d\n%s", code, stderr)
	}
	if n := len(e.sb.Requests()); n != 0 {
		t.Errorf("%d calls", n)
	}
}
