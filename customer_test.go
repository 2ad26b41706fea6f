package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"groupsync/cli"
	"groupsync/sandbox"
)

func customerEnv(t *testing.T) *env {
	e := newEnv(t, sandbox.Config{})
	e.api = cli.APICustomer
	return e
}

func customerCSV(n int, names map[string]string) string {
	var b strings.Builder
	b.WriteString("provided_id,name,group_tags,properties.tier\n")
	for i := range n {
		id := fmt.Sprintf("cust-%04d", i)
		name := fmt.Sprintf("Customer %d", i)
		if v, ok := names[id]; ok {
			name = v
		}
		fmt.Fprintf(&b, "%s,%s,gold,%d\n", id, name, i%3)
	}
	return b.String()
}

// The Customer API end to end, against the in-process sandbox.
func TestCustomerAPI_CreateRerunAndRefresh(t *testing.T) {
	e := customerEnv(t)
	m := e.write("customers.csv", customerCSV(40, nil))
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	// The manifest names group tags: they are listed once, before any
	// create.
	if st := e.sb.Stats(); st.Paths["/api/create_customer/"] != 40 || st.Paths["/api/group_tags/"] != 1 || st.Requests != 41 {
		t.Fatalf("first apply: %v", st.Paths)
	}
	checkReportMatchesSandbox(t, e, 40)

	e.sb.ResetStats()
	if _, stderr, code := e.run("apply", "-f", m); code != 0 || e.sb.Stats().Requests != 0 {
		t.Fatalf("rerun: exit %d, %d calls\n%s", code, e.sb.Stats().Requests, stderr)
	}
	stdout, stderr, code := e.run("plan", "-f", m, "--refresh", "--detailed-exitcode")
	if code != 0 || e.sb.Stats().Requests != 1 || e.sb.Stats().Paths["/v2/api/customers/"] != 1 {
		t.Fatalf("plan --refresh on an unchanged service: exit %d, %v\n%s%s", code, e.sb.Stats().Paths, stdout, stderr)
	}

	// Renamed and deleted behind groupsync's back.
	for _, id := range []string{"cust-0001", "cust-0002", "cust-0003"} {
		e.sb.Change(id, func(g *sandbox.Group) { g.Name = "Changed in the UI" })
	}
	e.sb.Delete("cust-0004")
	e.sb.ResetStats()
	stdout, _, code = e.run("plan", "-f", m, "--refresh")
	if code != 0 || strings.Count(stdout, `name: "Changed in the UI" → "Customer `) != 3 || !strings.Contains(stdout, "  + create cust-0004\n") ||
		!strings.Contains(stdout, "Plan: 1 to create, 3 to update, 36 unchanged, 0 orphaned.") {
		t.Fatalf("plan --refresh after drift: exit %d\n%s", code, stdout)
	}
	e.sb.ResetStats()
	if _, stderr, code := e.run("apply", "-f", m, "--refresh"); code != 0 {
		t.Fatalf("apply --refresh: exit %d\n%s", code, stderr)
	}
	if p := e.sb.Stats().Paths; p["/v2/api/customers/"] != 1 || p["/api/update_customer/"] != 3 || p["/api/create_customer/"] != 1 ||
		p["/api/group_tags/"] != 1 || e.sb.Stats().Requests != 6 {
		t.Fatalf("apply --refresh made %v", p)
	}
	checkReportMatchesSandbox(t, e, 40)
}

// 1,500 customers already on the service and an empty state: adopted with
// their tokens from two list pages, an update only where a field differs,
// and no create at all.
func TestCustomerAPI_AdoptFromTheList(t *testing.T) {
	e := customerEnv(t)
	const n = 1500
	for i := range n {
		e.sb.Put(sandbox.Group{ID: fmt.Sprintf("cust-%04d", i), Name: fmt.Sprintf("Customer %d", i), Tags: []string{"gold"},
			Properties: []byte(fmt.Sprintf(`{"tier": "%d"}`, i%3))})
	}
	m := e.write("customers.csv", customerCSV(n, map[string]string{"cust-0007": "Renamed", "cust-1234": "Renamed too"}))
	_, stderr, code := e.run("apply", "-f", m, "--refresh", "--concurrency", "8")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	p := e.sb.Stats().Paths
	if p["/v2/api/customers/"] != 2 || p["/api/update_customer/"] != 2 || p["/api/create_customer/"] != 0 || e.sb.Stats().Creates != 0 {
		t.Fatalf("calls %v", p)
	}
	checkReportMatchesSandbox(t, e, n)
	adopted := 0
	for _, r := range e.report() {
		if r["action"] == "adopt" {
			adopted++
		}
	}
	if adopted != n {
		t.Errorf("%d rows adopt, want %d", adopted, n)
	}
	e.sb.ResetStats()
	if _, _, code := e.run("apply", "-f", m); code != 0 || e.sb.Stats().Requests != 0 {
		t.Errorf("rerun after adopting: exit %d, %d calls", code, e.sb.Stats().Requests)
	}
}

// Without --refresh, each customer already on the service is a create
// that finds it; its answer shows every managed field, so one that already
// matches needs no update: N customers, N calls, plus an update for each
// one that differs. A manifest that manages the parent, which the answer
// does not show, still updates.
func TestCustomerAPI_AdoptByCreateUpdatesOnlyWhatDiffers(t *testing.T) {
	e := customerEnv(t)
	const n = 300
	for i := range n {
		e.sb.Put(sandbox.Group{ID: fmt.Sprintf("cust-%04d", i), Name: fmt.Sprintf("Customer %d", i), Tags: []string{"gold"},
			Properties: []byte(fmt.Sprintf(`{"tier": "%d"}`, i%3))})
	}
	m := e.write("customers.csv", customerCSV(n, map[string]string{"cust-0007": "Renamed"}))
	if _, stderr, code := e.run("apply", "-f", m, "--concurrency", "8"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	p := e.sb.Stats().Paths
	// The manifest names a group tag, so the tags are listed once first.
	if p["/api/create_customer/"] != n || p["/api/update_customer/"] != 1 || p["/api/group_tags/"] != 1 || e.sb.Stats().Requests != n+2 || e.sb.Stats().Creates != 0 {
		t.Fatalf("calls %v", p)
	}
	checkReportMatchesSandbox(t, e, n)
	for _, r := range e.report() {
		if r["action"] != "adopt" || r["new_user_group"] != "false" {
			t.Fatalf("row %v, want adopt, new_user_group false", r)
		}
	}
	// What was recorded is what the manifest manages: a rerun calls nothing.
	e.sb.ResetStats()
	if _, _, code := e.run("apply", "-f", m); code != 0 || e.sb.Stats().Requests != 0 {
		t.Fatalf("rerun after adopting: exit %d, %v", code, e.sb.Stats().Paths)
	}

	// The parent is not in the answer: managing it needs the update, except
	// for the root customer, whose level says it has none.
	e2 := customerEnv(t)
	e2.sb.Put(sandbox.Group{ID: "org", Name: "Org", Level: "Organization"})
	e2.sb.Put(sandbox.Group{ID: "dept", Name: "Dept", Level: "Department", Parent: "org"})
	m2 := e2.write("m.csv", "provided_id,name,hierarchy_level_name,parent_provided_id\norg,Org,Organization,\ndept,Dept,Department,org\n")
	if _, stderr, code := e2.run("apply", "-f", m2); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if p := e2.sb.Stats().Paths; p["/api/create_customer/"] != 2 || p["/api/update_customer/"] != 1 {
		t.Fatalf("calls %v, want both created and the child updated: the manifests manage the parent", p)
	}
}

// --prune deletes exactly the owned orphans, children first; a customer
// someone else created is never deleted; a delete that would cascade onto
// a wanted customer is refused before any call.
func TestCustomerAPI_Prune(t *testing.T) {
	e := customerEnv(t)
	full := e.write("org.yaml", `
- {id: org, name: Org}
- {id: dept, name: Dept, hierarchy_level_name: Department, parent_provided_id: org}
- {id: team, name: Team, hierarchy_level_name: Team, parent_provided_id: dept}
- {id: other, name: Other}
`)
	if _, stderr, code := e.run("apply", "-f", full); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	e.sb.Put(sandbox.Group{ID: "foreign", Name: "Created by someone else"})
	e.sb.Put(sandbox.Group{ID: "foreign-child", Name: "Under org", Level: "Team", Parent: "org"})

	// org and its tree leave the manifest, but team is still wanted:
	// deleting org would take it along.
	keepTeam := e.write("keep-team.yaml", "- {id: other, name: Other}\n- {id: team, name: Team, hierarchy_level_name: Team, parent_provided_id: dept}\n")
	e.sb.ResetStats()
	_, stderr, code := e.run("apply", "-f", keepTeam, "--prune")
	if code != 1 || !strings.Contains(stderr, `deleting "dept" would also delete "team", which the manifests want`) ||
		!strings.Contains(stderr, `deleting "org" would also delete "team"`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for path, n := range e.sb.Stats().Paths {
		if path != "/v2/api/customers/" && n > 0 {
			t.Errorf("a refused plan called %s", path)
		}
	}

	// A customer made elsewhere below org: org is not deleted, under
	// either revision of delete.
	only := e.write("only-other.yaml", "- {id: other, name: Other}\n")
	if _, stderr, code := e.run("plan", "-f", only, "--prune"); code != 1 ||
		!strings.Contains(stderr, `deleting "org" would also delete "foreign-child", which this state does not own (it was made elsewhere)`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	e.sb.Delete("foreign-child")
	stdout, _, _ := e.run("plan", "-f", only, "--prune")
	if !strings.Contains(stdout, "  - delete org  (after the customers below it, deleted first: dept, team)") {
		t.Errorf("plan does not name what goes first:\n%s", stdout)
	}
	e.sb.ResetStats()
	if _, stderr, code := e.run("apply", "-f", only, "--prune", "--concurrency", "8"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var deleted []string
	for _, r := range e.sb.Requests() {
		if r.Path == "/api/delete_customer/" {
			deleted = append(deleted, r.Path)
		}
	}
	groups := e.sb.Groups()
	if len(deleted) != 3 || len(groups) != 2 || groups["foreign"].Name == "" || groups["other"].Name == "" {
		t.Fatalf("%d deletes; left on the service: %v", len(deleted), groups)
	}
	// Children first: each delete found its customer (none had been
	// taken by a parent's cascade already).
	if st := e.sb.Stats(); st.Deletes != 3 || st.Rejected != 0 {
		t.Errorf("deletes %d, rejected %d", st.Deletes, st.Rejected)
	}
	rows := e.report()
	if last := rows[len(rows)-1]; last["action"] != "delete" || last["status"] != "ok" {
		t.Errorf("report %v", rows)
	}
}

// A three-level hierarchy in one manifest, children listed first, is
// created in dependency order even at --concurrency 16.
func TestCustomerAPI_HierarchyOrder(t *testing.T) {
	e := customerEnv(t)
	var y strings.Builder
	for d := range 5 {
		for tm := range 4 {
			fmt.Fprintf(&y, "- {id: team-%d-%d, name: T, hierarchy_level_name: Team, parent_provided_id: dept-%d}\n", d, tm, d)
		}
		fmt.Fprintf(&y, "- {id: dept-%d, name: D, hierarchy_level_name: Department, parent_provided_id: org}\n", d)
	}
	y.WriteString("- {id: org, name: Org}\n")
	m := e.write("org.yaml", y.String())
	if _, stderr, code := e.run("apply", "-f", m, "--concurrency", "16"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if st := e.sb.Stats(); st.Creates != 26 || st.Rejected != 0 {
		t.Fatalf("creates %d, rejected %d", st.Creates, st.Rejected)
	}
	checkReportMatchesSandbox(t, e, 26)
}

// rotate gives new tokens that are the sandbox's, and the old ones no
// longer work there.
func TestCustomerAPI_Rotate(t *testing.T) {
	e := customerEnv(t)
	m := e.write("customers.csv", customerCSV(3, nil))
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	old := e.sb.Groups()
	if _, stderr, code := e.run("rotate", "--only", "cust-0000,cust-0002"); code != 0 {
		t.Fatalf("rotate: exit %d\n%s", code, stderr)
	}
	now := e.sb.Groups()
	rows := map[string]map[string]string{}
	for _, r := range e.report() {
		rows[r["user_group_id"]] = r
	}
	for _, id := range []string{"cust-0000", "cust-0002"} {
		if now[id].Token == old[id].Token || rows[id]["token"] != now[id].Token || rows[id]["action"] != "rotate" {
			t.Errorf("%s: old %s, new %s, report %v", id, old[id].Token[:6], now[id].Token[:6], rows[id])
		}
	}
	if now["cust-0001"].Token != old["cust-0001"].Token {
		t.Error("a customer not named was rotated")
	}
	// The old token is dead on the service; the recorded one works.
	req, _ := http.NewRequest("POST", e.url+"/api/refresh_customer_token/", strings.NewReader(`{"current_token": "`+old["cust-0000"].Token+`"}`))
	req.Header.Set("Explo-Authorization", "Token "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("the old token: %v %v, want 404", resp, err)
	}
	resp.Body.Close()
	if _, stderr, code := e.run("rotate", "--only", "cust-0000"); code != 0 {
		t.Errorf("a second rotation from the recorded token: exit %d\n%s", code, stderr)
	}
	// And the plan is unchanged.
	if _, _, code := e.run("plan", "-f", m, "--detailed-exitcode"); code != 0 {
		t.Errorf("plan after rotating: exit %d, want no changes", code)
	}
}

// A customer whose id changed in the user's database keeps its token: the
// manifest names its previous id, the plan shows a rename, apply makes one
// call, and the state (children included) follows. A rename onto an id
// that exists is refused before any call.
func TestCustomerAPI_RenameKeepsTheToken(t *testing.T) {
	e := customerEnv(t)
	first := e.write("m0.yaml", `
- {id: acme-old, name: Acme}
- {id: acme-eu, name: Acme EU, hierarchy_level_name: Department, parent_provided_id: acme-old}
- {id: other, name: Other}
`)
	if _, stderr, code := e.run("apply", "-f", first); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	token := e.sb.Groups()["acme-old"].Token
	renamed := e.write("m1.yaml", `
- {id: acme, name: Acme, previous_provided_id: acme-old}
- {id: acme-eu, name: Acme EU, hierarchy_level_name: Department, parent_provided_id: acme}
- {id: other, name: Other}
`)
	stdout, stderr, code := e.run("plan", "-f", renamed)
	if code != 0 || !strings.Contains(stdout, "  → rename acme-old → acme  (one call; the token is kept)") ||
		!strings.Contains(stdout, "Plan: 0 to create, 1 to rename, 0 to update, 2 unchanged, 0 orphaned.") {
		t.Fatalf("plan: exit %d\n%s%s", code, stdout, stderr)
	}
	e.sb.ResetStats()
	if _, stderr, code := e.run("apply", "-f", renamed); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, stderr)
	}
	groups := e.sb.Groups()
	if st := e.sb.Stats(); st.Requests != 1 || st.Paths["/api/update_customer/"] != 1 || groups["acme"].Token != token || groups["acme-eu"].Parent != "acme" {
		t.Fatalf("%v; acme %+v", st.Paths, groups["acme"])
	}
	if tokens := stateTokens(t, e); tokens["acme"] != token || tokens["acme-old"] != "" {
		t.Errorf("the state did not follow the rename: %v", tokens)
	}
	checkStateTruthful(t, e)
	rows := e.report()
	if rows[0]["user_group_id"] != "acme" || rows[0]["action"] != "rename" || rows[0]["status"] != "ok" || rows[0]["token"] != token {
		t.Errorf("report %v", rows[0])
	}
	e.sb.ResetStats()
	if _, stderr, code := e.run("apply", "-f", renamed); code != 0 || e.sb.Stats().Requests != 0 {
		t.Errorf("rerun: exit %d, %d calls\n%s", code, e.sb.Stats().Requests, stderr)
	}
	onto := e.write("m2.yaml", "- {id: other, name: Other, previous_provided_id: acme}\n- {id: acme-eu, name: Acme EU, hierarchy_level_name: Department, parent_provided_id: acme}\n")
	e.sb.ResetStats()
	if _, stderr, code := e.run("apply", "-f", onto); code != 1 || !strings.Contains(stderr, `renaming "acme" to "other" would replace a customer the state holds under that id`) || e.sb.Stats().Requests != 0 {
		t.Errorf("rename onto an existing id: exit %d, %d calls\n%s", code, e.sb.Stats().Requests, stderr)
	}
}

// A group tag the service does not have is refused before any write, by
// file and line, with the tags that exist.
func TestCustomerAPI_UnknownGroupTagIsRefused(t *testing.T) {
	e := customerEnv(t)
	m := e.write("m.csv", "id,name,group_tags\na,A,gold\nb,B,\"gold, platinum\"\n")
	_, stderr, code := e.run("apply", "-f", m)
	if code != 1 || !strings.Contains(stderr, m+`:3: group_tags: group tag "platinum" does not exist (known: eu, gold, silver, us)`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if st := e.sb.Stats(); st.Requests != 1 || st.Paths["/api/group_tags/"] != 1 {
		t.Errorf("%v, want the tag list alone", st.Paths)
	}
}

// Root customers whose level cell is empty converge under --refresh: the
// service reports the root level by its name, and an empty cell is that.
func TestCustomerAPI_RefreshConvergesForRootCustomers(t *testing.T) {
	e := customerEnv(t)
	e.sb.Put(sandbox.Group{ID: "found", Name: "Found"})
	m := e.write("m.csv", "id,name,hierarchy_level_name,parent_provided_id\nroot,Root,,\nfound,Found,,\nchild,Child,Department,root\n")
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for range 2 {
		e.sb.ResetStats()
		stdout, stderr, code := e.run("plan", "-f", m, "--refresh", "--detailed-exitcode")
		if code != 0 || strings.Contains(stdout, "hierarchy_level_name") {
			t.Fatalf("plan --refresh after apply: exit %d\n%s%s", code, stdout, stderr)
		}
		if _, stderr, code := e.run("apply", "-f", m, "--refresh"); code != 0 || e.sb.Stats().Paths["/api/update_customer/"] != 0 {
			t.Fatalf("apply --refresh: exit %d, %v\n%s", code, e.sb.Stats().Paths, stderr)
		}
	}
}

// The first plan that adopts a hierarchy from the list invents no change:
// the parents of adopted children are read by listing each parent's
// children, and root customers have none.
func TestCustomerAPI_FirstAdoptPlanInventsNoDiffs(t *testing.T) {
	e := customerEnv(t)
	e.sb.Put(sandbox.Group{ID: "org-acme", Name: "Acme"})
	e.sb.Put(sandbox.Group{ID: "acme-eu", Name: "Acme EU", Level: "Department", Parent: "org-acme"})
	e.sb.Put(sandbox.Group{ID: "acme-us", Name: "Acme US", Level: "Department", Parent: "org-acme"})
	m := e.write("m.yaml", `
- {id: org-acme, name: Acme, hierarchy_level_name: "", parent_provided_id: ""}
- {id: acme-eu, name: Acme EU, hierarchy_level_name: Department, parent_provided_id: org-acme}
- {id: acme-us, name: Acme US, hierarchy_level_name: Department, parent_provided_id: org-acme}
`)
	stdout, stderr, code := e.run("plan", "-f", m, "--refresh")
	if code != 0 || strings.Contains(stdout, "then it is updated") || strings.Contains(stdout, "parent_provided_id") ||
		strings.Count(stdout, "(on the service, not in the state: its token is recorded; no call)") != 3 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	e.sb.ResetStats()
	if _, stderr, code := e.run("apply", "-f", m, "--refresh"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if st := e.sb.Stats(); st.Paths["/api/update_customer/"] != 0 || st.Paths["/api/create_customer/"] != 0 {
		t.Errorf("adopting made %v", st.Paths)
	}
	checkStateTruthful(t, e)
}

// --max-changes counts the groups an export lost: dropping one file of
// three is refused; once accepted, those orphans do not count again.
func TestMaxChanges_CountsNewlyOrphanedGroups(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	dir := filepath.Join(e.dir, "manifests")
	os.Mkdir(dir, 0o700)
	for i, name := range []string{"a.csv", "b.csv", "c.csv"} {
		var b strings.Builder
		b.WriteString("id,name\n")
		for j := range 5 {
			fmt.Fprintf(&b, "%s%d,Customer %d\n", name[:1], j, i*5+j)
		}
		os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o600)
	}
	if _, stderr, code := e.run("apply", "-f", dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	os.Remove(filepath.Join(dir, "b.csv"))
	e.sb.ResetStats()
	_, stderr, code := e.run("apply", "-f", dir, "--max-changes", "4")
	if code != 1 || !strings.Contains(stderr, "the plan has 5 changes") || !strings.Contains(stderr, "5 groups the last run saw in the manifests and no manifest lists now") ||
		e.sb.Stats().Requests != 0 {
		t.Fatalf("exit %d, %d calls\n%s", code, e.sb.Stats().Requests, stderr)
	}
	if _, stderr, code := e.run("apply", "-f", dir, "--max-changes", "5"); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, stderr, code := e.run("apply", "-f", dir, "--max-changes", "1"); code != 0 || e.sb.Stats().Requests != 0 {
		t.Fatalf("the known orphans counted again: exit %d\n%s", code, stderr)
	}
}
