// Two handlers for one tag.
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
    fn uptime(&mut self, out: &mut TagOut<'_>) {
        out.write_str("again");
    }
}

fn main() {}
