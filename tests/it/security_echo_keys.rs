//! A secret echoed back as a JSON object key is masked in every `-o json` form (CONTRACT §6;
//! issue 25 finding 4): a server of the test's own puts the credential it received in the keys
//! of every object it answers with, on every platform.

use crate::cli_util::run;
use crate::common::TestEnv;
use crate::common::loopback::{Server, response};

const TOKEN: &str = "echoed-as-a-key-0123456789abcdef";

/// Answers each path with the smallest body of the right shape, the token in its keys.
fn echo_server() -> Server {
    Server::start(|req| {
        let path = req.line().split(' ').nth(1).unwrap_or("").to_string();
        let echo = format!(r#""{TOKEN}": {{"{TOKEN}": "v", "prefix-{TOKEN}": 1}}"#);
        let body = if path.contains("/server/info") {
            format!(r#"{{"version": {{"major": 6, "minor": 1, "patch": 0}}, {echo}}}"#)
        } else if path.ends_with("/v1/user") {
            format!(r#"{{"username": "u", "user_role": "administrator", {echo}}}"#)
        } else if path.contains("/scopes") {
            format!(r#"{{"scopes": [{{"scope": "s", "description": "d", {echo}}}], {echo}}}"#)
        } else if path.contains("/__api__/") {
            format!(
                r#"[{{"guid": "8b0f5f3e-6d3c-4bde-9a7e-2f1f4d1c2b3a", "name": "n", "scopes": [], {echo}}}]"#
            )
        } else {
            format!(r#"[{{"id": 1, "name": "n", "roles": [], {echo}}}]"#)
        };
        response(200, &[("Content-Type", "application/json")], &body)
    })
}

#[test]
fn a_secret_echoed_as_a_json_key_is_masked_in_every_json_form() {
    for platform in ["stackstate", "posit-connect", "qualytics"] {
        let server = echo_server();
        let env = TestEnv::new();
        env.write_current_context(platform, &server.url, TOKEN);
        let mut forms: Vec<Vec<&str>> = vec![
            vec!["service-token", "list"],
            vec!["context", "validate"],
            vec!["auth", "status"],
            vec!["service-token", "list", "-A"],
            vec!["context", "validate", "-A"],
            vec!["auth", "status", "-A"],
        ];
        if platform == "posit-connect" {
            forms.push(vec!["service-token", "scopes"]);
        }
        for form in forms {
            let r = run(env.sts().args(&form).args(["-o", "json"]));
            let shown = format!("{}{}", r.stdout, r.stderr);
            assert!(
                server.received().contains(TOKEN),
                "{platform} {form:?}: the server never got the token"
            );
            assert!(!shown.contains(TOKEN), "{platform} {form:?}: {shown}");
            // Qualytics' validation shows a count of tokens, not the server's objects.
            let shows_objects =
                !(platform == "qualytics" && (form.contains(&"validate") || form[0] == "auth"));
            assert!(
                !shows_objects
                    || (r.stdout.contains("\"***\"") && r.stdout.contains("\"prefix-***\"")),
                "{platform} {form:?}: the echoed keys are not shown masked: {shown}"
            );
        }
    }
}
