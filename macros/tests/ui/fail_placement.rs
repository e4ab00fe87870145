// #[http_var] on something that is not the impl of the generated trait,
// and on a trait named without its module.

mod site {
    include!("site_gen.rs");
}
#[allow(unused_imports)]
use site::web::Handlers;

struct App;

#[emberstack::http_var]
fn uptime(_out: &mut u8) {}

#[emberstack::http_var]
impl App {}

#[emberstack::http_var]
impl Handlers for App {}

fn main() {}
