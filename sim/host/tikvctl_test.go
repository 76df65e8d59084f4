package host

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestTikvCtlShimWithoutAHandlerFails(t *testing.T) {
	th := newTestHost(t)
	out, errOut, err := th.run(t, "tikv-ctl --host 127.0.0.1:20160 compact -d kv -c default --bottommost force")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != exitFailure || out != "" ||
		!strings.Contains(errOut, "tikv-ctl (sim shim): this simulated host has no tikv-ctl") {
		t.Fatalf("tikv-ctl on a host without a handler: err %v, stdout %q, stderr %q", err, out, errOut)
	}
}
