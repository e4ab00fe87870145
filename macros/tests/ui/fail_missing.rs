// A tag a page uses and a form without handlers.
use emberstack::http::TagOut;

mod site {
    include!("site_gen.rs");
}
use site::web;

struct App;

#[emberstack::http_var]
impl web::Handlers for App {
    fn device_name(&mut self, _out: &mut TagOut<'_>) {}
    fn frames(&mut self, _out: &mut TagOut<'_>) {}
    fn message(&mut self, _out: &mut TagOut<'_>) {}
}

fn main() {}
