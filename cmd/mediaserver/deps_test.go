package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBinaryLinksNoTestHelpers keeps test code out of the shipped binary:
// no package of the testing family, none of our test helpers (the
// conformance suites and the *test packages that start real dependencies
// for tests, the test images), and the throwaway Prosody (localxmpp) only
// where the product uses it: cmd/mediaserver's demo command, which the
// README's first command runs.
func TestBinaryLinksNoTestHelpers(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/xmppmedia/mediaserver/"
	linked := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		linked[fields[0]] = fields[1:]
	}
	for _, want := range []string{module + "mediasvc", module + "mediasvc/mediaclient", module + "auth/xmppauth"} {
		if _, ok := linked[want]; !ok {
			t.Fatalf("go list does not show %s among the binary's packages: %s", want, out)
		}
	}
	for pkg, imports := range linked {
		name := strings.TrimPrefix(pkg, module)
		switch {
		case pkg == "testing" || strings.HasPrefix(pkg, "testing/") || pkg == "net/http/httptest":
			t.Errorf("the binary links %s", pkg)
		// transform/internal/quality (SSIM) is not among them: the byte-budget
		// search (transform.FitBudget) scores its candidates with it.
		case name != pkg && (strings.HasSuffix(name, "test") || strings.Contains(name, "/internal/testimage") ||
			strings.Contains(name, "/internal/previewbench")):
			t.Errorf("the binary links the test helper %s", pkg)
		}
		for _, imp := range imports {
			if imp == module+"auth/localxmpp" && pkg != module+"cmd/mediaserver" {
				t.Errorf("%s imports the throwaway Prosody (localxmpp); only the demo command may", pkg)
			}
		}
	}
}
