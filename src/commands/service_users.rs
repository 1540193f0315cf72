//! `sts service-user …`: the service users that tokens belong to, where a platform has them.

use super::{Failure, block_on};
use crate::cli::{Cli, ServiceUserCommand};
use crate::error::Error;
use crate::output::Printer;
use crate::platform::{self, Platform, PlatformKind};
use crate::settings::{self, OutputSettings, Sources};
use crate::with_platform;

/// `sts service-user …` (Qualytics).
pub fn run(
    cli: &Cli,
    cmd: &ServiceUserCommand,
    out: OutputSettings,
    printer: &Printer,
    src: &mut Sources,
) -> Result<(), Failure> {
    let platform = settings::platform_hint(&cli.global, src);
    if !platform.profile().service_users {
        let having: Vec<PlatformKind> = PlatformKind::ALL
            .into_iter()
            .filter(|k| k.profile().service_users)
            .collect();
        let names: Vec<&str> = having.iter().map(|k| k.display()).collect();
        let flags: Vec<String> = having.iter().map(|k| format!("--platform {k}")).collect();
        return Err(platform::unsupported(
            platform,
            "service users",
            &format!(
                "they are {}' only (service tokens of service users); use {}",
                names.join("' and "),
                flags.join(" or ")
            ),
        )
        .into());
    }
    if let ServiceUserCommand::Create(a) = cmd
        && (a.name.trim().is_empty() || a.role.trim().is_empty())
    {
        return Err(Error::usage("--name and --role must not be empty").into());
    }
    let settings = settings::resolve(&cli.global, out, src)?;
    for warning in &settings.warnings {
        printer.warn(warning);
    }
    block_on(async {
        let client = settings.client(printer)?;
        match cmd {
            ServiceUserCommand::List(_) => {
                let users = with_platform!(platform, P => P::service_users(&client).await)?;
                printer.service_users(&users)?;
            }
            ServiceUserCommand::Create(a) => {
                let user = with_platform!(platform, P => {
                    P::create_service_user(&client, &a.name, &a.role, &a.teams).await
                })?;
                printer.service_user_created(&user)?;
            }
        }
        Ok(())
    })
}
