/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/report/text.test.ts > TAP > plan text > must match snapshot 1`] = `
node1 (10.88.0.11) as sysman (key): 2 changes
  ~ hosts: /etc/hosts: 2 addresses to change
      ~ 127.0.1.1: "odroid64" => "node1"
      - 10.0.0.9: "x"
  ~ ip-forward: net.ipv4.ip_forward 0 -> 1
      ~ net.ipv4.ip_forward: "0" => "1"
node2 (10.88.0.12) as sysman (key): converged
node3 (10.88.0.13): unreachable
  ! node3: cannot connect to 10.88.0.13:22: connect EHOSTUNREACH

Plan: 0 to create, 2 to change, 0 to remove, 0 reboots, 0 rebuilds on 3 nodes; 1 converged, 1 pending, 1 unknown (1 unreachable).

`

exports[`test/report/text.test.ts > TAP > results text > must match snapshot 1`] = `
node1: converged (2 changes applied)
node3: unreachable
  ! node3: cannot connect

Apply failed on: node3.

`

exports[`test/report/text.test.ts > TAP > results text > must match snapshot 2`] = `
## PicoTrader plan: demo

**State unknown on node3** (unreachable, or some facts could not be read).

**2 change(s) pending.**

| node | state | outcome | changes |
| --- | --- | --- | --- |
| node1 | pending | converged | 2 |
| node2 | converged | planned | 0 |
| node3 | unknown | unreachable | 0 |

### node1

- \`hosts\`: /etc/hosts: 2 addresses to change
- \`ip-forward\`: net.ipv4.ip_forward 0 -> 1

### node3

- :warning: node3: cannot connect to 10.88.0.13:22: connect EHOSTUNREACH

`
