//! `[dhcp]`: the DHCP client (whether it is built in, its retransmission
//! timing and the host name it sends).

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use serde::Deserialize;

use super::key::Key;
use super::{Schema, Section};
use crate::diag::{Diagnostics, Span};
use crate::reader::{quote_str, TableReader};

/// Longest host name: one DNS label (RFC 1035 §2.3.4).
pub const MAX_HOSTNAME_LEN: usize = 63;

/// `[dhcp]` settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct DhcpSection {
    /// `enabled` as written; absent means "as `[ipv4] dhcp`".
    pub enabled: Option<bool>,
    /// `retransmit_base` (seconds): the delay before the first
    /// retransmission of a DISCOVER or REQUEST; it doubles each time.
    pub retransmit_base: u64,
    /// `retransmit_max` (seconds, not below `retransmit_base`): the longest
    /// retransmission delay.
    pub retransmit_max: u64,
    /// `hostname` as written (default: the device name).
    pub hostname: Option<String>,
    /// `arp_probes`: ARP probes for an ACKed address before it is used
    /// (RFC 5227); 0 leaves probing out.
    pub arp_probes: u8,
    /// `send_hostname` (default true): option 12 is sent.
    pub send_hostname: bool,
    /// `init_reboot` (default true): INIT-REBOOT after a link change or
    /// for a kept address.
    pub init_reboot: bool,
    /// Whether the DHCP client is built in: `enabled`, else `[ipv4] dhcp`
    /// (decided once the whole file is read).
    #[serde(skip)]
    pub client: bool,
    /// The host name sent in option 12: `hostname`, else the device name
    /// with `_` (not allowed in host names) turned into `-`.
    #[serde(skip)]
    pub effective_hostname: String,
    #[serde(skip)]
    enabled_span: Option<Span>,
    /// Keys other than `enabled` that were written, for the "not built in"
    /// check.
    #[serde(skip)]
    settings_span: Option<(&'static str, Span)>,
}

impl Default for DhcpSection {
    fn default() -> Self {
        DhcpSection {
            enabled: None,
            retransmit_base: 4,
            retransmit_max: 64,
            hostname: None,
            arp_probes: 2,
            send_hostname: true,
            init_reboot: true,
            client: true,
            effective_hostname: String::new(),
            enabled_span: None,
            settings_span: None,
        }
    }
}

impl Schema for DhcpSection {
    const KEYS: &'static [&'static [Key]] = &[&[
        Key::bool("enabled")
            .default_text("`[ipv4] dhcp`")
            .range("`false` only with `[ipv4] dhcp = false`")
            .doc(
                "Build the DHCP client in (`type Dhcp = DhcpClient<Device>`); `false` leaves it \
                 out (`Disabled`: no code, no RAM, and `stack.dhcp()`'s API does not compile). \
                 With `[ipv4] dhcp = false` and `enabled = true` the device starts static and \
                 can switch DHCP on later.",
            ),
        Key::int("retransmit_base", 1, 60)
            .unit("seconds")
            .default("4")
            .doc(
                "Delay before the first retransmission of a DISCOVER or REQUEST; it doubles \
                 with each one (RFC 2131 §4.1), randomized by ±1 s (±¼ of the delay when that \
                 is less).",
            ),
        Key::int("retransmit_max", 1, 3600)
            .unit("seconds")
            .default("64")
            .range_more("at least `retransmit_base`")
            .doc("The longest retransmission delay."),
        Key::int("arp_probes", 0, 3).default("2").doc(
            "ARP probes (RFC 5227 §2.1, sender 0.0.0.0) for an ACKed address before it is used, \
             250 ms apart, the first within 100 ms, then 500 ms for an answer; a host that \
             answers or probes the same address makes the client send DHCPDECLINE and discover \
             again after 10 s. `0` leaves probing (and the conflict handling after binding) \
             out: no code.",
        ),
        Key::string(
            "hostname",
            "a host name of 1 to 63 ASCII letters, digits and `-`",
        )
        .content(is_hostname)
        .default_text(
            "the device's name at run time (`[device] name` until the application renames it \
             with `Stack::set_device_name`), `_` written as `-`",
        )
        .range(
            "1 to 63 ASCII letters, digits and `-`, not starting or ending with `-` (one DNS \
             label, RFC 1123)",
        )
        .doc("Sent in option 12, so the server (and its DNS) knows the device by name."),
        Key::bool("send_hostname")
            .default("true")
            .range("`false` not with `hostname`")
            .doc(
                "Send the host name (option 12). `false` leaves that code out; the server knows \
                 the device by its MAC address only.",
            ),
        Key::bool("init_reboot").default("true").doc(
            "INIT-REBOOT (RFC 2131 §3.2): after the link comes back, and for an address the \
             application kept (`reboot_with`), ask for the address instead of discovering. \
             `false` leaves that code out: a lease and its timers go on across a link change, \
             and `reboot_with` is ignored (the client discovers).",
        ),
    ]];

    fn check(&mut self, r: &mut TableReader<'_, '_, '_>) {
        self.enabled_span = r.accepted("enabled");
        if let Some(span) = r.accepted("retransmit_max") {
            if self.retransmit_max < self.retransmit_base {
                r.error(
                    "retransmit_max",
                    span,
                    format!(
                        "expected at least `retransmit_base` ({} s), found {}",
                        self.retransmit_base, self.retransmit_max
                    ),
                );
                self.retransmit_max = DhcpSection::default().retransmit_max;
            }
        }
        if let (false, Some(span)) = (self.send_hostname, r.span("hostname")) {
            r.error(
                "hostname",
                span,
                "`send_hostname = false` sends no host name; remove `hostname` or \
                 `send_hostname = false`",
            );
        }
        // The first setting written (the host name even when invalid).
        self.settings_span = [
            ("retransmit_base", r.accepted("retransmit_base")),
            (
                "retransmit_max",
                r.accepted("retransmit_max")
                    .filter(|_| self.retransmit_max >= self.retransmit_base),
            ),
            ("arp_probes", r.accepted("arp_probes")),
            ("hostname", r.span("hostname")),
            ("send_hostname", r.accepted("send_hostname")),
            ("init_reboot", r.accepted("init_reboot")),
        ]
        .into_iter()
        .find_map(|(key, span)| Some((key, span?)));
    }
}

impl DhcpSection {
    /// Settles what depends on other sections: whether the client is built
    /// in (`[ipv4] dhcp`) and the default host name (`[device] name`), and
    /// reports settings that contradict them.
    pub(crate) fn resolve(
        &mut self,
        ipv4_dhcp: bool,
        device_name: &str,
        diags: &mut Diagnostics<'_>,
    ) {
        self.client = self.enabled.unwrap_or(ipv4_dhcp);
        self.effective_hostname = self
            .hostname
            .clone()
            .unwrap_or_else(|| device_name.replace('_', "-"));
        if ipv4_dhcp && self.enabled == Some(false) {
            let span = self.enabled_span.clone().unwrap_or(0..0);
            diags.error(
                span,
                "[dhcp] enabled: `false` leaves the DHCP client out, but `[ipv4] dhcp = true` \
                 needs it at start; set `[ipv4] dhcp = false` (static address) or remove \
                 `enabled = false`"
                    .to_owned(),
            );
        }
        if let (None, false, Some((key, span))) = (self.enabled, ipv4_dhcp, &self.settings_span) {
            diags.error(
                span.clone(),
                format!(
                    "[dhcp] {key}: the DHCP client is not built in (`[ipv4] dhcp = false`); add \
                     `enabled = true` to [dhcp] to build it in (switched on at run time with \
                     `stack.dhcp().set_enabled(true)`), or remove `{key}`"
                ),
            );
        }
    }

    /// Items outside the `impl Config`: the client's settings, when it is
    /// built in.
    pub(crate) fn settings_impl(&self) -> TokenStream {
        if !self.client {
            return TokenStream::new();
        }
        let base = Literal::u64_unsuffixed(self.retransmit_base);
        let max = Literal::u64_unsuffixed(self.retransmit_max);
        // Absent: the run-time device name (renames reach the server).
        let hostname = match &self.hostname {
            Some(h) => quote!(::core::option::Option::Some(#h)),
            None => quote!(::core::option::Option::None),
        };
        let probes = Literal::u8_unsuffixed(self.arp_probes);
        // The switches are written only when off (the trait's defaults
        // are on).
        let mut switches = TokenStream::new();
        if !self.send_hostname {
            switches.extend(quote!(
                const SEND_HOSTNAME: bool = false;
            ));
        }
        if !self.init_reboot {
            switches.extend(quote!(
                const INIT_REBOOT: bool = false;
            ));
        }
        quote! {
            impl ::emberstack::dhcp::DhcpSettings for Device {
                const RETRANSMIT_BASE: ::emberstack::Duration = ::emberstack::Duration::from_secs(#base);
                const RETRANSMIT_MAX: ::emberstack::Duration = ::emberstack::Duration::from_secs(#max);
                const HOSTNAME: ::core::option::Option<&'static str> = #hostname;
                const ARP_PROBES: u8 = #probes;
                #switches
            }
        }
    }
}

impl Section for DhcpSection {
    const NAME: &'static str = "dhcp";

    fn impl_items(&self) -> TokenStream {
        if self.client {
            quote!(
                type Dhcp = ::emberstack::dhcp::DhcpClient<Device>;
            )
        } else {
            quote!(
                type Dhcp = ::emberstack::service::Disabled;
            )
        }
    }
}

/// Checks a host name (RFC 1123 §2.1: one label of letters, digits and
/// hyphens, not starting or ending with a hyphen); reports and returns
/// false when it is not one.
fn is_hostname(
    r: &mut TableReader<'_, '_, '_>,
    _key: &'static str,
    name: &str,
    span: &Span,
) -> bool {
    let len = name.chars().count();
    if len == 0 {
        r.error(
            "hostname",
            span.clone(),
            format!("expected 1 to {MAX_HOSTNAME_LEN} characters, found an empty string"),
        );
        return false;
    }
    if let Some((i, c)) = name
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        let sub = r.sub_span(span, name, i..i + c.len_utf8());
        r.error(
            "hostname",
            sub,
            format!(
                "expected only ASCII letters, digits and `-`, found {c:?} in {}",
                quote_str(name)
            ),
        );
        return false;
    }
    if len > MAX_HOSTNAME_LEN {
        let sub = r.sub_span(span, name, MAX_HOSTNAME_LEN..MAX_HOSTNAME_LEN + 1);
        r.error(
            "hostname",
            sub,
            format!(
                "expected at most {MAX_HOSTNAME_LEN} characters (one DNS label), found {len} in {}",
                quote_str(name)
            ),
        );
        return false;
    }
    if name.starts_with('-') || name.ends_with('-') {
        r.error(
            "hostname",
            span.clone(),
            format!(
                "expected a name that does not start or end with `-`, found {}",
                quote_str(name)
            ),
        );
        return false;
    }
    true
}
