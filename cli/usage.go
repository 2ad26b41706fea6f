package cli

// Usage is groupsync's help; the README's Usage section shows the same
// text, which a test holds it to.
const Usage = `Usage:
    groupsync validate -f PATH... [--api API]      check manifests; no network
    groupsync plan     -f PATH... [flags]          show what apply would do; no mutating call
    groupsync apply    -f PATH... [flags]          make Explo match the manifests
    groupsync apply    --plan PLAN.json [flags]    apply exactly a plan saved by plan --out
    groupsync state    list|show ID|rm ID...       read the state, or forget groups (no call)
    groupsync rotate   --only ID,... [flags]       new tokens for these customers (Customer API)
    groupsync sandbox  [--addr 127.0.0.1:8089]     serve a local Explo API for demos and tests
    groupsync completion bash|zsh|fish             print a shell completion script
    groupsync version

Run 'groupsync COMMAND -h' for the flags of a command.

Exit codes:
    0  done: no changes, or every change applied
    1  could not run; nothing was changed on the service
    2  plan --detailed-exitcode: the plan has changes
    3  apply ran, but some groups did not converge, or what it changed
       could not all be recorded; the report (or the message) says which
    128+N  stopped at once by a second signal N (130: Ctrl-C, 143: SIGTERM);
       the state is consistent, and a rerun finishes the job
`
