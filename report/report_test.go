package report

import (
	"bytes"
	"testing"
)

func TestWriter(t *testing.T) {
	yes := true
	rows := []Row{
		{ID: "a", Name: "Acme, Inc.", Action: "create", Status: "ok", New: &yes, Token: "t1", EnvTag: "Customer", Attempts: 1, HTTPStatus: 200},
		{ID: "b", Name: "B", Action: "update", Status: "failed", Token: "t2", Attempts: 2, HTTPStatus: 400, Error: "HTTP 400: \"bad\""},
		{ID: "c", Name: "C", Action: "noop", Status: "ok", Token: "t3"},
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
`},
		{"Redacted", true, `user_group_id,name,action,status,new_user_group,token,api_environment_tag,attempts,http_status,error
a,"Acme, Inc.",create,ok,true,,Customer,1,200,
b,B,update,failed,,,,2,400,"HTTP 400: ""bad"""
c,C,noop,ok,,,,,,
`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			w, err := NewWriter(&b, tt.redact)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if err := w.Write(r); err != nil {
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
