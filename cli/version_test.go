package cli

import (
	"runtime/debug"
	"testing"
)

func TestVersionOf(t *testing.T) {
	vcs := func(settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "groupsync", Version: "(devel)"}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    string
	}{
		{name: "Stamped", stamped: "v1.2.0-3-gabc1234", bi: vcs("vcs.revision", "0123456789abcdef"), want: "v1.2.0-3-gabc1234"},
		{name: "GoInstall", bi: &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}}, want: "v1.2.0"},
		{name: "GoBuildClean", bi: vcs("vcs", "git", "vcs.revision", "0123456789abcdef0123", "vcs.time", "2026-01-15T10:00:00Z", "vcs.modified", "false"),
			want: "devel 0123456789ab 2026-01-15T10:00:00Z"},
		{name: "GoBuildModified", bi: vcs("vcs.revision", "0123456789abcdef0123", "vcs.modified", "true"), want: "devel 0123456789ab (modified)"},
		{name: "NoVCS", bi: vcs(), want: "(devel)"},
		{name: "NoBuildInfo", want: "(devel)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionOf(tt.stamped, tt.bi); got != tt.want {
				t.Errorf("versionOf() = %q, want %q", got, tt.want)
			}
		})
	}
}
