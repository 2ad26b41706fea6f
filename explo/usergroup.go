package explo

import (
	"context"
	"encoding/json"
	"net/http"

	"groupsync/internal/canonjson"
	"groupsync/reconcile"
)

// Paths of the End User Group API, below the base URL.
const (
	PathCreate = "/api/create_user_group/"
	PathUpdate = "/api/update_user_group/"
)

// UserGroups is the End User Group API: get-or-create and update.
type UserGroups struct{ c *Client }

var _ reconcile.API = (*UserGroups)(nil)

// UserGroups returns the End User Group API of c.
func (c *Client) UserGroups() *UserGroups { return &UserGroups{c: c} }

// CreateGroup calls create_user_group.
func (u *UserGroups) CreateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return u.do(ctx, PathCreate, g)
}

// UpdateGroup calls update_user_group.
func (u *UserGroups) UpdateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return u.do(ctx, PathUpdate, g)
}

// Body is the request body of both calls. Fields the manifest does not
// manage are nil, and left out; a managed but empty map is sent as {}.
type Body struct {
	UserGroupID string          `json:"user_group_id"`
	Name        string          `json:"name"`
	IsDemoGroup *bool           `json:"is_demo_group,omitempty"`
	Mapping     json.RawMessage `json:"mapping,omitempty"`
	Properties  json.RawMessage `json:"properties,omitempty"`
}

// NewBody returns the body that sends g's managed fields and no others.
func NewBody(g *reconcile.Group) Body {
	b := Body{UserGroupID: g.ID, Name: g.Name}
	b.IsDemoGroup, b.Mapping, b.Properties = commonFields(g)
	return b
}

// commonFields are the fields both APIs send the same way.
func commonFields(g *reconcile.Group) (demo *bool, mapping, properties json.RawMessage) {
	if g.Managed.Has(reconcile.FieldIsDemo) {
		demo = &g.IsDemo
	}
	if g.Managed.Has(reconcile.FieldMapping) {
		mapping = json.RawMessage(canonjson.Object(len(g.Mapping), func(i int) (string, string) {
			return g.Mapping[i].Key, canonjson.Quote(g.Mapping[i].Value)
		}))
	}
	if g.Managed.Has(reconcile.FieldProperties) {
		properties = json.RawMessage(canonjson.Object(len(g.Properties), func(i int) (string, string) {
			return g.Properties[i].Key, g.Properties[i].Value
		}))
	}
	return demo, mapping, properties
}

// Response is the answer of both calls.
type Response struct {
	Success      Flag       `json:"success"`
	NewUserGroup bool       `json:"new_user_group"`
	UserGroup    *UserGroup `json:"user_group,omitempty"`
}

func (r *Response) ok() bool { return bool(r.Success) }

// UserGroup is a group as the service returns it. It does not echo mapping.
type UserGroup struct {
	TeamID      int             `json:"team_id"`
	Token       string          `json:"token"`
	Name        string          `json:"name"`
	ProvidedID  string          `json:"provided_id"`
	IsDemoGroup bool            `json:"is_demo_group"`
	Properties  json.RawMessage `json:"properties"`
	EnvTag      string          `json:"api_environment_tag"`
}

func (u *UserGroups) do(ctx context.Context, path string, g *reconcile.Group) (reconcile.Remote, error) {
	var r Response
	code, err := u.c.do(ctx, request{method: http.MethodPost, path: path, body: NewBody(g), id: g.ID}, &r)
	if err != nil {
		return reconcile.Remote{}, err
	}
	if r.UserGroup == nil {
		return reconcile.Remote{}, &Error{Status: code, GroupID: g.ID, Message: "the answer has no user_group"}
	}
	ug := r.UserGroup
	u.c.secrets.Add(ug.Token)
	return reconcile.Remote{ID: ug.ProvidedID, New: r.NewUserGroup, Token: ug.Token, EnvTag: ug.EnvTag, Code: code}, nil
}
