// Run-time errors as values: the kind comes from the error's class, never from its text.
import t from "tap";
import { describeDiagnostic, diagnosticFrom } from "../../src/engine/diagnostics.js";
import { ConnectError, HostKeyError, StepError, UnreachableError } from "../../src/errors.js";

t.test("each error class has its kind", async (t) => {
  t.match(
    diagnosticFrom("n1", new UnreachableError("n1", "cannot connect to 10.0.0.1:22: ETIMEDOUT"), "node"),
    {
      node: "n1",
      severity: "error",
      kind: "unreachable",
      summary: "n1: cannot connect to 10.0.0.1:22: ETIMEDOUT",
    },
  );
  t.match(diagnosticFrom("n1", new HostKeyError("n1", "host key CHANGED"), "node"), { kind: "host-key" });
  t.match(diagnosticFrom("n1", new ConnectError("n1", "no identity was accepted"), "node"), { kind: "auth" });
  t.match(diagnosticFrom("n1", new Error("boom"), "node"), { kind: "node", summary: "boom" });
  // A message that merely says "cannot connect" is not taken for one.
  t.match(diagnosticFrom("n1", new Error("cannot connect to anything"), "step-failed"), {
    kind: "step-failed",
  });
});

t.test("a failed step: its concern, one summary line, stderr's tail as detail", async (t) => {
  const d = diagnosticFrom("n1", new StepError("n1", "sshd", "sshd -t", 255, "line 1\nline 2\n"), "node");
  t.strictSame(d, {
    node: "n1",
    severity: "error",
    kind: "step-failed",
    summary: "n1: sshd: step failed (exit 255): sshd -t",
    concern: "sshd",
    detail: "line 1\nline 2",
  });
  t.equal(describeDiagnostic(d), "n1: sshd: step failed (exit 255): sshd -t\nline 1\nline 2");
});
