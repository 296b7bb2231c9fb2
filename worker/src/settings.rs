//! The Worker's settings: its variables and secrets (`EDGEMETER_…`), read from the
//! environment once per isolate. An isolate serves one version of the Worker, and a
//! version's variables and secrets never change under it (a new value is a new version,
//! in new isolates), so the front and the objects alike read each once, not per call.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use worker::Env;

thread_local! {
    /// Settings read so far, by name.
    static SETTINGS: RefCell<HashMap<&'static str, Rc<str>>> = RefCell::new(HashMap::new());
}

/// A variable or secret's text; absent means empty.
pub fn get(env: &Env, name: &'static str) -> Rc<str> {
    if let Some(v) = SETTINGS.with(|s| s.borrow().get(name).cloned()) {
        return v;
    }
    let v: Rc<str> = env
        .var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .unwrap_or_default()
        .into();
    SETTINGS.with(|s| s.borrow_mut().insert(name, v.clone()));
    v
}
