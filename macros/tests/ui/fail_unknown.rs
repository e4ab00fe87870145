// A handler for a tag no page uses: the nearest tag is suggested.
use emberstack::http::{Input, TagOut};

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
    fn uptime(&mut self, _out: &mut TagOut<'_>) {}
    fn settings(&mut self, _input: Input<'_>) {}
    fn uptme(&mut self, _out: &mut TagOut<'_>) {}
    fn temperature(&mut self, _out: &mut TagOut<'_>) {}
}

fn main() {}
