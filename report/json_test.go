package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"groupsync/reconcile"
)

func TestJSONWriter(t *testing.T) {
	yes := true
	rows := []reconcile.Result{
		{ID: "a", Name: "Acme <&> \"Ünïcode\"", Action: reconcile.ActionCreate, Status: reconcile.StatusOK, New: &yes, Token: "t1", EnvTag: "Customer", Attempts: 1, Code: 200},
		{ID: "b", Name: "=B", Action: reconcile.ActionUpdate, Status: reconcile.StatusFailed, Token: "t2", Attempts: 2, Code: 400, Err: errors.New(`HTTP 400: "bad"`)},
		{ID: "c", Name: "C", Action: reconcile.ActionNoop, Status: reconcile.StatusOK, Token: "t3"},
	}
	var b bytes.Buffer
	w, err := New(&b, "tokens.JSON", Options{BOM: true})
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
	want := `[
{"user_group_id":"a","name":"Acme <&> \"Ünïcode\"","action":"create","status":"ok","new_user_group":true,"token":"t1","api_environment_tag":"Customer","attempts":1,"http_status":200,"error":null},
{"user_group_id":"b","name":"=B","action":"update","status":"failed","new_user_group":null,"token":"t2","api_environment_tag":null,"attempts":2,"http_status":400,"error":"HTTP 400: \"bad\""},
{"user_group_id":"c","name":"C","action":"noop","status":"ok","new_user_group":null,"token":"t3","api_environment_tag":null,"attempts":0,"http_status":null,"error":null}
]
`
	if got := b.String(); got != want {
		t.Errorf("JSON report =\n%s\nwant\n%s", got, want)
	}
	// The keys are the CSV's columns, in order.
	var objs []json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &objs); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(objs[0]))
	dec.Token()
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v any
		dec.Decode(&v)
	}
	if strings.Join(keys, ",") != strings.Join(Header, ",") {
		t.Errorf("keys %v, want %v", keys, Header)
	}
}

func TestJSONWriter_EmptyAndRedacted(t *testing.T) {
	var b bytes.Buffer
	w, _ := New(&b, "r.json", Options{Redact: true})
	w.Close()
	if b.String() != "[]\n" {
		t.Errorf("empty report = %q", b.String())
	}
	b.Reset()
	w, _ = New(&b, "r.json", Options{Redact: true})
	w.Write(&reconcile.Result{ID: "a", Name: "A", Action: reconcile.ActionNoop, Status: reconcile.StatusOK, Token: "secret"})
	w.Close()
	if strings.Contains(b.String(), "secret") || !strings.Contains(b.String(), `"token":null`) {
		t.Errorf("redacted report = %s", b.String())
	}
}

func TestNew_CSVWithBOM(t *testing.T) {
	var b bytes.Buffer
	w, err := New(&b, "tokens.csv", Options{BOM: true})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&reconcile.Result{ID: "a", Name: "Zoë", Action: reconcile.ActionNoop, Status: reconcile.StatusOK})
	w.Close()
	if want := "\uFEFFuser_group_id,name,"; !strings.HasPrefix(b.String(), want) {
		t.Errorf("report starts %q, want %q", b.String()[:30], want)
	}
	b.Reset()
	w, _ = New(&b, "tokens.csv", Options{})
	w.Close()
	if strings.HasPrefix(b.String(), "\uFEFF") {
		t.Error("a byte order mark without BOM")
	}
}
