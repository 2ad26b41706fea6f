package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"groupsync/sandbox"
)

func TestApply_CreateThenNoop(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(40, nil, nil))
	_, stderr, code := e.run("apply", "-f", m)
	if code != 0 {
		t.Fatalf("apply exit %d:\n%s", code, stderr)
	}
	groups := e.sb.Groups()
	if got, want := len(groups), 40; got != want {
		t.Fatalf("sandbox holds %d groups, want %d", got, want)
	}
	for i := range 40 {
		id := fmt.Sprintf("cust-%03d", i)
		g := groups[id]
		if g.Name != fmt.Sprintf("Customer %d", i) || g.IsDemo != (i%7 == 0) || g.Mapping["40"] != fmt.Sprint(200+i) {
			t.Errorf("%s = %+v", id, g)
		}
		var props map[string]any
		if err := json.Unmarshal(g.Properties, &props); err != nil || props["region"] != fmt.Sprintf("r%d", i%3) || props["tier"] != float64(i%4) {
			t.Errorf("%s properties = %s", id, g.Properties)
		}
	}
	rows := e.report()
	if len(rows) != 40 {
		t.Fatalf("report has %d rows, want 40", len(rows))
	}
	first := map[string]string{}
	for i, r := range rows {
		if want := fmt.Sprintf("cust-%03d", i); r["user_group_id"] != want {
			t.Fatalf("row %d is %s, want %s (manifest order)", i, r["user_group_id"], want)
		}
		if r["action"] != "create" || r["status"] != "ok" || r["new_user_group"] != "true" || r["token"] != groups[r["user_group_id"]].Token {
			t.Errorf("row %v", r)
		}
		first[r["user_group_id"]] = r["token"]
	}

	e.sb.ResetStats()
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("rerun exit %d:\n%s", code, stderr)
	}
	if got := e.sb.Stats().Requests; got != 0 {
		t.Fatalf("rerun made %d calls, want 0", got)
	}
	for _, r := range e.report() {
		if r["action"] != "noop" || r["status"] != "ok" || r["token"] != first[r["user_group_id"]] || r["token"] == "" {
			t.Errorf("rerun row %v", r)
		}
	}
}

func TestApply_OnlyChangedGroupsAreCalled(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(40, nil, nil))
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatal(stderr)
	}
	e.sb.ResetStats()
	names := map[string]string{"cust-001": "Renamed 1", "cust-002": "Renamed 2", "cust-003": "Renamed 3"}
	e.write("customers.csv", customers(42, names, map[string]string{"cust-010": "999"}))
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatal(stderr)
	}
	st := e.sb.Stats()
	if got, want := st.Paths["/api/update_user_group/"], 4; got != want {
		t.Errorf("update calls = %d, want %d", got, want)
	}
	if got, want := st.Paths["/api/create_user_group/"], 2; got != want {
		t.Errorf("create calls = %d, want %d", got, want)
	}
	g := e.sb.Groups()
	if g["cust-002"].Name != "Renamed 2" || g["cust-010"].Mapping["40"] != "999" || g["cust-041"].Name != "Customer 41" {
		t.Errorf("sandbox not converged: %+v %+v %+v", g["cust-002"], g["cust-010"], g["cust-041"])
	}
	actions := map[string]int{}
	for _, r := range e.report() {
		actions[r["action"]]++
	}
	if actions["update"] != 4 || actions["create"] != 2 || actions["noop"] != 36 {
		t.Errorf("report actions = %v", actions)
	}
}

func TestApply_AdoptsExistingGroups(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	e.sb.Put(sandbox.Group{ID: "cust-000", Name: "Stale", Token: "existing-token-0", Mapping: map[string]string{"40": "1"}, Properties: json.RawMessage(`{"old":true}`)})
	e.sb.Put(sandbox.Group{ID: "cust-001", Name: "Stale too", Token: "existing-token-1", IsDemo: true})
	m := e.write("customers.csv", customers(3, nil, nil))
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatal(stderr)
	}
	g := e.sb.Groups()
	if g["cust-000"].Name != "Customer 0" || g["cust-000"].Mapping["40"] != "200" || string(g["cust-000"].Properties) != `{"region":"r0","tier":0}` {
		t.Errorf("cust-000 not corrected: %+v %s", g["cust-000"], g["cust-000"].Properties)
	}
	if g["cust-001"].IsDemo || g["cust-001"].Name != "Customer 1" {
		t.Errorf("cust-001 not corrected: %+v", g["cust-001"])
	}
	want := map[string][3]string{
		"cust-000": {"adopt", "false", "existing-token-0"},
		"cust-001": {"adopt", "false", "existing-token-1"},
		"cust-002": {"create", "true", g["cust-002"].Token},
	}
	for _, r := range e.report() {
		w := want[r["user_group_id"]]
		if r["action"] != w[0] || r["new_user_group"] != w[1] || r["token"] != w[2] || r["status"] != "ok" {
			t.Errorf("row %v, want action, new, token = %v", r, w)
		}
	}
	e.sb.ResetStats()
	if _, stderr, code := e.run("apply", "-f", m); code != 0 || e.sb.Stats().Requests != 0 {
		t.Fatalf("rerun after adopt: exit %d, %d calls\n%s", code, e.sb.Stats().Requests, stderr)
	}
}

func TestApply_UnmanagedFieldsAreNeverSent(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	e.sb.Put(sandbox.Group{ID: "b", Name: "Old B", Mapping: map[string]string{"40": "7"}, Properties: json.RawMessage(`{"keep":1}`), IsDemo: true})
	m := e.write("m.csv", "id,name\na,Alpha\nb,Beta\n")
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatal(stderr)
	}
	reqs := e.sb.Requests()
	if len(reqs) != 3 { // create a; create b (exists), update b
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		for k := range r.Body {
			if k != "user_group_id" && k != "name" {
				t.Errorf("%s sent %q, which the manifest does not manage", r.Path, k)
			}
		}
	}
	b := e.sb.Groups()["b"]
	if b.Name != "Beta" || b.Mapping["40"] != "7" || string(b.Properties) != `{"keep":1}` || !b.IsDemo {
		t.Errorf("unmanaged fields of b changed: %+v", b)
	}
}

func TestPlan(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(5, nil, nil))

	t.Run("CallsNothing", func(t *testing.T) {
		stdout, stderr, code := e.run("plan", "-f", m, "--rate", "3/s")
		if code != 0 {
			t.Fatal(stderr)
		}
		if n := e.sb.Stats().Requests; n != 0 {
			t.Fatalf("plan made %d calls", n)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if got, want := lines[len(lines)-1], "5 calls ≈ 2s at 3/s"; got != want {
			t.Errorf("last line %q, want %q", got, want)
		}
		if !strings.Contains(stdout, `+ create cust-000  "Customer 0"`) {
			t.Errorf("no create line:\n%s", stdout)
		}
	})
	t.Run("DetailedExitcode", func(t *testing.T) {
		if _, _, code := e.run("plan", "-f", m, "--detailed-exitcode"); code != 2 {
			t.Fatalf("exit %d with changes, want 2", code)
		}
		if _, stderr, code := e.run("apply", "-f", m); code != 0 {
			t.Fatal(stderr)
		}
		if _, _, code := e.run("plan", "-f", m, "--detailed-exitcode"); code != 0 {
			t.Fatalf("exit %d without changes, want 0", code)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		e.write("customers.csv", customers(6, map[string]string{"cust-001": "New Name"}, nil))
		stdout, stderr, code := e.run("plan", "-f", m, "--json")
		if code != 0 {
			t.Fatal(stderr)
		}
		var got struct {
			FormatVersion int            `json:"format_version"`
			Summary       map[string]int `json:"summary"`
			Changes       []struct {
				ID     string `json:"user_group_id"`
				Action string `json:"action"`
				Fields []struct {
					Path          string
					Before, After any
				} `json:"fields"`
			} `json:"changes"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatalf("%v:\n%s", err, stdout)
		}
		if got.FormatVersion != 1 || got.Summary["create"] != 1 || got.Summary["update"] != 1 || got.Summary["noop"] != 4 || got.Summary["orphan"] != 0 {
			t.Errorf("summary = %v", got.Summary)
		}
		if len(got.Changes) != 2 || got.Changes[0].ID != "cust-001" || got.Changes[0].Action != "update" {
			t.Fatalf("changes = %+v", got.Changes)
		}
		f := got.Changes[0].Fields
		if len(f) != 1 || f[0].Path != "name" || f[0].Before != "Customer 1" || f[0].After != "New Name" {
			t.Errorf("fields = %+v", f)
		}
	})
	t.Run("DryRun", func(t *testing.T) {
		e.sb.ResetStats()
		_, stderr, code := e.run("apply", "-f", m, "--dry-run")
		if code != 0 {
			t.Fatal(stderr)
		}
		if n := e.sb.Stats().Requests; n != 0 {
			t.Fatalf("dry run made %d calls", n)
		}
		status := map[string]string{}
		for _, r := range e.report() {
			status[r["user_group_id"]] = r["action"] + "/" + r["status"]
		}
		if status["cust-001"] != "update/planned" || status["cust-005"] != "create/planned" || status["cust-000"] != "noop/ok" {
			t.Errorf("dry-run report = %v", status)
		}
	})
}

func TestApply_RejectedGroupFailsAlone(t *testing.T) {
	e := newEnv(t, sandbox.Config{Reject: map[string]string{"cust-003": "name contains a forbidden word"}})
	m := e.write("customers.csv", customers(6, nil, nil))
	_, stderr, code := e.run("apply", "-f", m)
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "cust-003: create failed: HTTP 400") {
		t.Errorf("stderr does not name the failed group:\n%s", stderr)
	}
	for _, r := range e.report() {
		if r["user_group_id"] == "cust-003" {
			if r["status"] != "failed" || r["attempts"] != "1" || r["http_status"] != "400" || !strings.Contains(r["error"], "name contains a forbidden word") {
				t.Errorf("failed row %v", r)
			}
		} else if r["status"] != "ok" {
			t.Errorf("row %v", r)
		}
	}
	if got := e.sb.Stats().Paths["/api/create_user_group/"]; got != 6 {
		t.Errorf("%d create calls, want 6 (no retry of a rejection)", got)
	}

	e.sb.ResetStats()
	e.sb.Unreject("cust-003")
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatal(stderr)
	}
	reqs := e.sb.Requests()
	if len(reqs) != 1 || string(reqs[0].Body["user_group_id"]) != `"cust-003"` {
		t.Errorf("rerun requests = %v, want one create for cust-003", reqs)
	}
}

func TestApply_ReportAndStateAreMode0600(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(2, nil, nil))
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatal(stderr)
	}
	for _, p := range []string{"report.csv", "state.json", "state.json.backup"} {
		info, err := os.Stat(e.path(p))
		if err != nil {
			if p == "state.json.backup" {
				continue // the first save has no previous version
			}
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", p, info.Mode().Perm())
		}
	}
}

func TestApply_SavedPlan(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(4, nil, nil))
	planPath := e.path("plan.json")
	if _, stderr, code := e.run("plan", "-f", m, "--out", planPath); code != 0 {
		t.Fatal(stderr)
	}
	// The manifest changes after planning: apply --plan applies the plan,
	// not the manifest.
	e.write("customers.csv", customers(6, nil, nil))
	if _, stderr, code := e.run("apply", "--plan", planPath); code != 0 {
		t.Fatal(stderr)
	}
	if got := len(e.sb.Groups()); got != 4 {
		t.Errorf("%d groups on the service, want the plan's 4", got)
	}
	if rows := e.report(); len(rows) != 4 || rows[0]["action"] != "create" {
		t.Errorf("report %v", rows)
	}
	// The state has moved since the plan: applying it again is refused.
	_, stderr, code := e.run("apply", "--plan", planPath)
	if code != 1 || !strings.Contains(stderr, "the state changed since plan") {
		t.Errorf("stale plan: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := e.run("apply", "--plan", planPath, "-f", m); code != 1 || !strings.Contains(stderr, "can't be combined") {
		t.Errorf("--plan with -f: exit %d\n%s", code, stderr)
	}
	if err := os.WriteFile(e.path("not-a-plan.json"), []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := e.run("apply", "--plan", e.path("not-a-plan.json")); code != 1 || !strings.Contains(stderr, "is not a plan saved by groupsync plan --out") {
		t.Errorf("bad plan file: exit %d\n%s", code, stderr)
	}
}

func TestValidate(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	stdout, stderr, code := e.run("validate", "-f", "samples")
	if code != 0 || stdout != "ok: 2 files, 20 groups, managed fields: name,is_demo_group,mapping,properties\n" {
		t.Errorf("validate samples: exit %d\n%s%s", code, stdout, stderr)
	}
	m := e.write("bad.yaml", "- {id: a}\n- {id: a, name: A}\n")
	_, stderr, code = e.run("validate", "-f", m)
	want := "groupsync: " + m + ":1: name: missing: every group needs name"
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("validate bad: exit %d, want %q in\n%s", code, want, stderr)
	}
}

func TestValidate_Delimiter(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("tabs.csv", "id\tname\na\tAcme, Inc.\n")
	if stdout, stderr, code := e.run("validate", "-f", m, "--delimiter", "tab"); code != 0 || !strings.HasPrefix(stdout, "ok: 1 file, 1 group") {
		t.Errorf("--delimiter tab: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := e.run("validate", "-f", m, "--delimiter", "|"); code != 1 || !strings.Contains(stderr, `--delimiter "|": want ',', ';' or 'tab'`) {
		t.Errorf("--delimiter |: exit %d\n%s", code, stderr)
	}
}
