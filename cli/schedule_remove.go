package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ScheduleRemoveCmd deletes what install wrote.
type ScheduleRemoveCmd struct {
	Dir    string `name:"dir" required:"" type:"path" help:"The --dir given to 'schedule install'."`
	Force  bool   `name:"force" help:"Also delete files changed since install."`
	Plan   string `arg:"" optional:"" type:"existingfile" help:"plan.toml: also reset its [schedule] runner to manual."`
	Output string `name:"output" short:"o" enum:"text,json" default:"text" help:"text, or json (the files removed and the commands left to run)."`
}

// ScheduleRemoved is the --output json document of schedule remove.
type ScheduleRemoved struct {
	Removed []string `json:"removed"`
	Gone    []string `json:"already_gone,omitempty"`
	Undo    []string `json:"undo,omitempty"` // commands to run if it was installed system-wide
}

// Run removes the listed files and the manifest.
func (c *ScheduleRemoveCmd) Run(g *Globals) error {
	mpath := filepath.Join(c.Dir, ScheduleManifest)
	data, err := os.ReadFile(mpath)
	if err != nil {
		return Failf("pass the --dir that 'tikv-ear schedule install' wrote to", "reading %s: %v", mpath, err)
	}
	var m InstallManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Failf("remove the files by hand", "%s is not a tikv-ear schedule manifest: %v", mpath, err)
	}
	for _, cmd := range m.Undo {
		if strings.Contains(cmd, "disable") {
			fmt.Fprintf(g.IO.Err, "tikv-ear: stop the schedule first if it is active: %s\n", cmd)
		}
	}
	done := ScheduleRemoved{Removed: []string{}}
	for _, f := range m.Files {
		cur, err := os.ReadFile(f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(g.IO.Err, "tikv-ear: %s is already gone\n", f.Path)
			done.Gone = append(done.Gone, f.Path)
			continue
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.Path, err)
		}
		if sha256Hex(cur) != f.SHA256 && !c.Force {
			return Failf("check it, then pass --force to delete it anyway", "%s changed since 'schedule install' wrote it; not deleting it", f.Path)
		}
		if err := os.Remove(f.Path); err != nil {
			return fmt.Errorf("removing %s: %w", f.Path, err)
		}
		done.Removed = append(done.Removed, f.Path)
		if c.Output != "json" {
			fmt.Fprintf(g.IO.Out, "removed %s\n", f.Path)
		}
	}
	if err := os.Remove(mpath); err != nil {
		return fmt.Errorf("removing %s: %w", mpath, err)
	}
	for _, cmd := range m.Undo {
		if !strings.Contains(cmd, "disable") {
			done.Undo = append(done.Undo, cmd)
			if c.Output != "json" {
				fmt.Fprintf(g.IO.Out, "if you installed it system-wide, also run: %s\n", cmd)
			}
		}
	}
	if c.Plan != "" {
		if err := recordRunner(c.Plan, "", "", ""); err != nil {
			return err
		}
	}
	if c.Output == "json" {
		return writeJSON(g.IO.Out, done)
	}
	return nil
}

// unitExecStart returns the ExecStart= value of a unit file (tests and checks).
func unitExecStart(unit []byte) (string, bool) {
	for _, line := range strings.Split(string(unit), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return v, true
		}
	}
	return "", false
}

// splitExecStart splits a systemd ExecStart value into argv: double-quoted
// words with backslash escapes, "%%" for "%" and "$$" for "$" (the quoting
// schedule.Systemd writes; systemd.service(5) "Command lines").
func splitExecStart(v string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case quoted && ch == '\\' && i+1 < len(v):
			i++
			cur.WriteByte(v[i])
		case ch == '"':
			quoted, inWord = !quoted, true
		case !quoted && (ch == ' ' || ch == '\t'):
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case (ch == '%' || ch == '$') && i+1 < len(v) && v[i+1] == ch:
			i++
			cur.WriteByte(ch)
			inWord = true
		case ch == '%':
			return nil, fmt.Errorf("ExecStart %q: specifier %%%c is not expanded here", v, v[min(i+1, len(v)-1)])
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("ExecStart %q: unterminated quote", v)
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}
