// Wrong signatures: a tag handler returning its value, one taking
// `&self`, and a form handler taking a tag's writer.
use emberstack::http::TagOut;

mod site {
    include!("site_gen.rs");
}
use site::web;

struct App;

#[emberstack::http_var]
impl web::Handlers for App {
    fn device_name(&mut self) -> &'static str {
        "EMBER"
    }
    fn frames(&self, _out: &mut TagOut<'_>) {}
    fn message(&mut self, _out: &mut TagOut<'_>) {}
    fn uptime(&mut self, _out: &mut TagOut<'_>) {}
    fn settings(&mut self, _out: &mut TagOut<'_>) {}
}

fn main() {}
