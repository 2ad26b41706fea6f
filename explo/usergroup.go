package explo

import (
	"context"
	"encoding/json"
	"net/http"

	"groupsync/internal/canonjson"
	"groupsync/internal/fieldjson"
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

// NewBody returns the body of both calls: g's managed fields that the End
// User Group API knows, and no others. A managed but empty map is sent as
// {}.
func NewBody(g *reconcile.Group) json.RawMessage {
	m := []fieldjson.Member{{Key: "user_group_id", Raw: canonjson.Quote(g.ID)}, {Key: "name", Raw: canonjson.Quote(g.Name)}}
	m = append(m, fieldjson.Members(g, ^reconcile.CustomerFields, false)...)
	return json.RawMessage(fieldjson.Object(m))
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
