package main

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/xuri/excelize/v2"

	"groupsync/sandbox"
)

// TestScript runs testdata/script/*.txtar: groupsync as a user types it,
// against a sandbox started for each script. The sandbox's URL and token
// are in $EXPLO_API_URL and $EXPLO_API_TOKEN (and the token in the file
// $TOKEN_FILE); the sb command inspects and changes it from the script.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			sb := sandbox.New(sandbox.Config{Token: testToken, Quota: -1, RecordRequests: true})
			ts := httptest.NewServer(sb)
			e.Defer(ts.Close)
			e.Values[sbKey{}] = sb
			e.Setenv("EXPLO_API_URL", ts.URL)
			e.Setenv("EXPLO_API_TOKEN", testToken)
			e.Setenv("GORACE", os.Getenv("GORACE"))
			e.Setenv("SANDBOX_HOST", strings.TrimPrefix(ts.URL, "http://"))
			return os.WriteFile(filepath.Join(e.WorkDir, "token.txt"), []byte(testToken+"\n"), 0o600)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"sb": sbCommand, "exits": exitsCommand, "xlsx": xlsxCommand},
	})
}

type sbKey struct{}

// exitsCommand runs a command and checks its exit code:
//
//	exits CODE groupsync ARGS...
//
// and, after every run, that neither stdout nor stderr holds the API token
// or a token of the service.
func exitsCommand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%v", err)
	}
	if code != want {
		ts.Fatalf("exit code %d, want %d", code, want)
	}
	secrets := []string{testToken}
	for _, g := range ts.Value(sbKey{}).(*sandbox.Server).Groups() {
		secrets = append(secrets, g.Token)
	}
	for _, name := range []string{"stdout", "stderr"} {
		out := ts.ReadFile(name)
		for _, s := range secrets {
			if strings.Contains(out, s) {
				ts.Fatalf("%s holds a token", name)
			}
		}
	}
}

// sbCommand is the script's hand on the sandbox:
//
//	sb put ID NAME          a group that exists before groupsync runs
//	sb rename ID NAME       change a name behind groupsync's back
//	sb delete ID            delete a group (and those below it)
//	sb hostile MODE...      switch hostile modes on (none: off)
//	sb reject ID MESSAGE    answer 400 success: 0 for ID
//	sb reset                zero the request counters
//	sb calls N [PATH]       exactly N requests (to PATH) since the reset
//	sb groups N             the service holds exactly N groups
//	sb tokens FILE          every ok row of the report FILE has the service's token
//	sb token ID             print the group's token on stdout
//	sb lose N PATH          act on the next N requests to PATH, then drop the connection
//	sb delete-children MODE the revision of delete_customer: cascade or refuse
func sbCommand(ts *testscript.TestScript, neg bool, args []string) {
	sb := ts.Value(sbKey{}).(*sandbox.Server)
	if len(args) == 0 {
		ts.Fatalf("usage: sb put|rename|delete|hostile|reject|reset|calls|groups|tokens|token|lose|delete-children ...")
	}
	check := func(ok bool, format string, a ...any) {
		if ok == neg {
			ts.Fatalf(format, a...)
		}
	}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		ts.Check(err)
		return n
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "put":
		sb.Put(sandbox.Group{ID: rest[0], Name: strings.Join(rest[1:], " ")})
	case "rename":
		check(sb.Change(rest[0], func(g *sandbox.Group) { g.Name = strings.Join(rest[1:], " ") }), "no group %q", rest[0])
	case "delete":
		sb.Delete(rest[0])
	case "hostile":
		var modes []sandbox.Hostile
		for _, m := range rest {
			if m != "none" {
				check(slices.Contains(sandbox.AllHostile, sandbox.Hostile(m)), "unknown mode %q", m)
				modes = append(modes, sandbox.Hostile(m))
			}
		}
		sb.SetHostile(modes...)
	case "reject":
		sb.Reject(rest[0], strings.Join(rest[1:], " "))
	case "reset":
		sb.ResetStats()
	case "calls":
		st := sb.Stats()
		got := st.Requests
		if len(rest) > 1 {
			got = st.Paths[rest[1]]
		}
		check(got == atoi(rest[0]), "%d calls, want %s (%v)", got, rest[0], st.Paths)
	case "groups":
		n := len(sb.Groups())
		check(n == atoi(rest[0]), "the service holds %d groups, want %s", n, rest[0])
	case "tokens":
		groups := sb.Groups()
		rows := readReport(scriptTB{ts}, ts.MkAbs(rest[0]))
		for _, r := range rows {
			if r["status"] == "ok" && r["action"] != "delete" {
				check(r["token"] != "" && r["token"] == groups[r["user_group_id"]].Token, "row %v does not hold the service's token", r)
			}
		}
	case "token":
		fmt.Fprintln(ts.Stdout(), sb.Groups()[rest[0]].Token)
	case "lose":
		sb.LoseAnswers(rest[1], atoi(rest[0]))
	case "delete-children":
		check(slices.Contains(sandbox.DeleteModes, sandbox.DeleteMode(rest[0])), "unknown mode %q", rest[0])
		sb.SetDeleteChildren(sandbox.DeleteMode(rest[0]))
	default:
		ts.Fatalf("sb: unknown command %q", cmd)
	}
}

// scriptTB lets helpers that take testing.TB fail a script.
type scriptTB struct{ ts *testscript.TestScript }

func (s scriptTB) Helper()                        {}
func (s scriptTB) Fatal(args ...any)              { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) Fatalf(format string, a ...any) { s.ts.Fatalf(format, a...) }

// xlsxCommand builds an Excel workbook, as Excel would save it, from a
// text file of cells, one a line (# starts a comment):
//
//	xlsx OUT.xlsx CELLS
//
//	sheet NAME              the sheets that follow are on NAME (first: Sheet1)
//	REF text VALUE          a cell typed as text
//	REF number VALUE        a number
//	REF bool true|false     a boolean
//	REF date 2006-01-02     a date (a number with a date format)
//	REF formula EXPR        a formula (=EXPR), with no cached value
//	REF format:CODE NUMBER  a number under a custom number format
func xlsxCommand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: xlsx OUT.xlsx CELLS")
	}
	f := excelize.NewFile()
	defer f.Close()
	sheet, first := "Sheet1", true
	for n, line := range strings.Split(ts.ReadFile(args[1]), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ref, rest, _ := strings.Cut(line, " ")
		kind, value, _ := strings.Cut(rest, " ")
		var err error
		switch {
		case ref == "sheet":
			if first {
				err = f.SetSheetName(sheet, rest)
			} else {
				_, err = f.NewSheet(rest)
			}
			sheet, first = rest, false
		case kind == "text":
			err = f.SetCellStr(sheet, ref, value)
		case kind == "number":
			var v float64
			if v, err = strconv.ParseFloat(value, 64); err == nil {
				err = f.SetCellFloat(sheet, ref, v, -1, 64)
			}
		case kind == "bool":
			err = f.SetCellBool(sheet, ref, value == "true")
		case kind == "date":
			var d time.Time
			if d, err = time.Parse("2006-01-02", value); err == nil {
				err = f.SetCellValue(sheet, ref, d)
			}
		case kind == "formula":
			err = f.SetCellFormula(sheet, ref, value)
		case strings.HasPrefix(kind, "format:"):
			code := strings.TrimPrefix(kind, "format:")
			var v float64
			var style int
			if v, err = strconv.ParseFloat(value, 64); err == nil {
				if style, err = f.NewStyle(&excelize.Style{CustomNumFmt: &code}); err == nil {
					if err = f.SetCellFloat(sheet, ref, v, -1, 64); err == nil {
						err = f.SetCellStyle(sheet, ref, ref, style)
					}
				}
			}
		default:
			err = fmt.Errorf("unknown kind %q", kind)
		}
		if err != nil {
			ts.Fatalf("%s:%d: %v", args[1], n+1, err)
		}
	}
	ts.Check(f.SaveAs(ts.MkAbs(args[0])))
}
