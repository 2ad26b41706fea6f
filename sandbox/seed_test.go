package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSeed(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServer_LoadSeed(t *testing.T) {
	files := map[string]string{
		"seed.json": `[
  {"provided_id": "team", "name": "Team", "level": "Team", "parent": "org", "emails": ["a@x.com"]},
  {"provided_id": "org", "name": "Org", "group_tags": ["gold", "eu"], "mapping": {"40": "213"},
   "properties": {"tier": 2}, "is_demo_group": true, "token": "seeded-token-1", "parent": null}
]`,
		"seed.csv": "\ufeffProvided_ID,name,level,parent,tags,emails,mapping,properties,is_demo_group,token\n" +
			"team,Team,Team,org,,a@x.com,,,,\n" +
			"org,Org,,,\"gold, eu\",,\"{\"\"40\"\": \"\"213\"\"}\",\"{\"\"tier\"\": 2}\",yes,seeded-token-1\n",
	}
	for name, text := range files {
		t.Run(name, func(t *testing.T) {
			s, url := start(t, Config{Quota: -1})
			n, err := s.LoadSeed(writeSeed(t, name, text))
			if err != nil || n != 2 {
				t.Fatalf("LoadSeed() = %d, %v", n, err)
			}
			g := s.Groups()
			org, team := g["org"], g["team"]
			if org.Token != "seeded-token-1" || org.Level != "Organization" || !org.IsDemo || strings.Join(org.Tags, ",") != "gold,eu" ||
				org.Mapping["40"] != "213" || string(org.Properties) != `{"tier": 2}` || org.AccessGroup != "Production" {
				t.Errorf("org = %+v", org)
			}
			if team.Parent != "org" || team.Level != "Team" || team.Emails[0] != "a@x.com" || len(team.Token) != 48 || team.Seq >= org.Seq {
				t.Errorf("team = %+v", team)
			}
			// The seeded customers are the service's: the API answers them.
			_, got := post(t, url, "/api/get_customer/", `{"provided_id": "org"}`)
			if c := got["customer"].(map[string]any); c["token"] != "seeded-token-1" || c["is_demo_group"] != true {
				t.Errorf("get_customer = %v", got)
			}
		})
	}
}

// A bad seed file is refused whole, with every problem by line and field.
func TestServer_LoadSeedErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"seed.csv", "provided_id,name,tags,level,parent,token\na,A,platinum,,,\nb,B,,Galaxy,,\nc,C,,Team,ghost,\nd,D,,,a,\ne,,,,,\na,A2,,,,\nf,F,,,,tok\ng,G,,,,tok\n",
			`seed.csv:2: tags: group tag "platinum" does not exist (tags: gold, silver, eu, us)
seed.csv:3: level: hierarchy level "Galaxy" does not exist (levels: Organization, Department, Team)
seed.csv:4: parent: customer "ghost" does not exist
seed.csv:5: parent: "a" is at level "Organization", which is not higher than "Organization"
seed.csv:6: name: required
seed.csv:7: provided_id: "a" is also on line 2
seed.csv:9: token: "f" has the same token`},
		{"seed.csv", "id,name,colour\na,A,red\n", `seed.csv:1: unknown column "colour"`},
		{"seed.csv", "id,name,tags,group_tags\n", `seed.csv:1: columns "tags" and "group_tags" are the same field`},
		{"seed.csv", "id,name\na,A,extra\n", `seed.csv:2: wrong number of fields`},
		{"seed.csv", "id,name,is_demo_group,properties,mapping\na, A,maybe,[1],\"{\"\"40\"\": 1}\"\n",
			`seed.csv:2: name: " A": must be non-empty, without leading or trailing spaces
seed.csv:2: is_demo_group: "maybe": must be true or false
seed.csv:2: properties: must be a JSON object
seed.csv:2: mapping: must be a JSON object of schema id to data source id strings`},
		{"seed.json", `{"provided_id": "a"}`, `seed.json:1: a JSON seed file is an array of customers`},
		{"seed.json", "[\n  {\"provided_id\": \"a\",\n   \"name\": 3,\n   \"colour\": \"red\"}\n]", "seed.json:3: name: must be a string\nseed.json:4: colour: unknown key"},
		{"seed.json", "[\n {\"provided_id\": \"a\", \"name\": \"A\", \"id\": \"b\"}]", `seed.json:2: id: the field is given twice`},
		{"seed.json", "[\n {\"provided_id\": \"a\", \"name\": \"A\"},\n 7]", `seed.json:3: each customer is a JSON object`},
		{"seed.json", `[{"provided_id": "a", "name": "A"}] []`, `seed.json:1: data after the array`},
		{"seed.json", `[{"provided_id": "a", "name": "A"`, `seed.json:1: the file ends inside the array`},
		{"seed.yaml", `- a`, `seed.yaml: a seed file is .json or .csv, not ".yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			s := New(Config{})
			s.Put(Group{ID: "existing", Name: "E"})
			path := writeSeed(t, tt.name, tt.text)
			n, err := s.LoadSeed(path)
			if err == nil {
				t.Fatalf("LoadSeed() = %d, nil; want %q", n, tt.want)
			}
			if got := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), ""); !strings.HasPrefix(got, tt.want) {
				t.Errorf("error\n%s\nwant\n%s", got, tt.want)
			}
			if len(s.Groups()) != 1 {
				t.Errorf("a refused seed left %d customers, want only the one there before", len(s.Groups()))
			}
		})
	}
}

// The demo's seed file is loaded here, so it cannot rot.
func TestServer_LoadSeedDemo(t *testing.T) {
	s := New(Config{})
	if n, err := s.LoadSeed("../scripts/demo-seed.csv"); err != nil || n == 0 {
		t.Fatalf("LoadSeed() = %d, %v", n, err)
	}
}

func FuzzParseSeed(f *testing.F) {
	f.Add([]byte("provided_id,name,tags\na,A,\"gold,eu\"\n"), false)
	f.Add([]byte(`[{"provided_id": "a", "name": "A", "properties": {"x": [1]}, "tags": ["gold"]}]`), true)
	f.Add([]byte("id,name,parent\na,A,\nb,B,a\n"), false)
	f.Add([]byte(`[{"id": "a", "name": "A", "parent": null}, {}]`), true)
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		name := "seed.csv"
		if isJSON {
			name = "seed.json"
		}
		entries, problems, err := parseSeed(name, data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), name+":") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, p := range problems {
			if p.line < 1 || p.msg == "" {
				t.Fatalf("problem %+v without a line or a message", p)
			}
		}
		for _, e := range entries {
			if e.g.ID == "" || e.g.Name == "" || e.line < 1 {
				t.Fatalf("entry %+v without an id, a name or a line", e)
			}
		}
	})
}
