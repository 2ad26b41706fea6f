package explo

import (
	"fmt"
	"strings"
	"testing"
)

// listPageBody is a page of 1,000 customers as the service answers it, in
// snake_case or camelCase.
func listPageBody(camel bool) []byte {
	var b strings.Builder
	key := func(snake, camelKey string) string {
		if camel {
			return camelKey
		}
		return snake
	}
	fmt.Fprintf(&b, `{"success": 1, "%s": 100000, "results": {"customers": [`, key("total_count", "totalCount"))
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"token": "%048d", "name": "Customer %d", "%s": "cust-%06d", "%s": false, "emails": ["ops@example.com"], "%s": ["gold", "eu"],
			"properties": {"region": "eu", "tier": 2, "filterValue": "v%d"}, "%s": {"region": "eu", "tier": 2}, "%s": "Production",
			"%s": {"40": "213", "134": "386"}, "%s": {"40": "213"}, "%s": "Organization"}`,
			i, i, key("provided_id", "providedId"), i, key("is_demo_group", "isDemoGroup"), key("group_tags", "groupTags"), i,
			key("computed_properties", "computedProperties"), key("access_group", "accessGroup"),
			key("parent_schema_datasource_mapping", "parentSchemaDatasourceMapping"),
			key("computed_parent_schema_datasource_mapping", "computedParentSchemaDatasourceMapping"), key("hierarchy_level", "hierarchyLevel"))
	}
	b.WriteString("]}}")
	return []byte(b.String())
}

// BenchmarkListPage reads a page of 1,000 customers into reconcile's
// records: "typed" is the typed decode alone (what snake_case pages cost
// before the camelCase revision was read), "snake" and "camel" the reading
// of each revision.
func BenchmarkListPage(b *testing.B) {
	for _, tt := range []struct {
		name  string
		camel bool
		read  func([]byte) error
	}{
		{"typed", false, func(data []byte) error { var r listResponse; return readPage(data, &r) }},
		{"snake", false, func(data []byte) error { var r listAnswer; return readPage(data, &r.listResponse, &r) }},
		{"camel", true, func(data []byte) error { var r listAnswer; return readPage(data, &r.listResponse, &r) }},
	} {
		data := listPageBody(tt.camel)
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := tt.read(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// readPage decodes data as the client does, into r (or into via, which
// fills r), and converts every customer.
func readPage(data []byte, r *listResponse, via ...any) error {
	var target any = r
	if len(via) > 0 {
		target = via[0]
	}
	if !jsonObject(data) {
		return fmt.Errorf("not a JSON object")
	}
	if err := decodeInto(data, target); err != nil { // as Client.decode reads an answer
		return err
	}
	list, err := r.customers()
	if err != nil {
		return err
	}
	if len(list) != 1000 || list[999].ProvidedID != "cust-000999" || list[0].AccessGroup != "Production" {
		return fmt.Errorf("read %d customers, last %+v", len(list), list[len(list)-1])
	}
	for i := range list {
		if _, err := applied(&list[i]); err != nil {
			return err
		}
	}
	return nil
}
