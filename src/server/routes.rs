//! The table of what the router serves: every handler is added here with its method and path,
//! so [`super::routes`] (the list the OpenAPI drift test compares with the spec) and the router
//! come from one place and cannot disagree.

use super::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use axum::Router;
use std::sync::Arc;

type State = Arc<AppState>;

/// Routes being put together: per path, the methods and the method router serving them.
#[derive(Default)]
pub(crate) struct Routes {
    entries: Vec<(&'static str, Vec<Method>, MethodRouter<State>)>,
}

impl Routes {
    pub(crate) fn get<H: Handler<T, State>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(path, Method::GET, routing::get(h))
    }

    pub(crate) fn post<H: Handler<T, State>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(path, Method::POST, routing::post(h))
    }

    pub(crate) fn put<H: Handler<T, State>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(path, Method::PUT, routing::put(h))
    }

    /// A method router built by the caller (to give it a layer); it serves `method` only.
    pub(crate) fn add(
        mut self,
        path: &'static str,
        method: Method,
        handler: MethodRouter<State>,
    ) -> Self {
        match self.entries.iter_mut().find(|(p, _, _)| *p == path) {
            Some((_, methods, served)) => {
                methods.push(method);
                let before = std::mem::replace(served, MethodRouter::new());
                *served = before.merge(handler);
            }
            None => self.entries.push((path, vec![method], handler)),
        }
        self
    }

    /// `(method, path)` of every route, in the order they were added.
    pub(crate) fn served(&self) -> Vec<(Method, &'static str)> {
        self.entries
            .iter()
            .flat_map(|(path, methods, _)| methods.iter().map(|m| (m.clone(), *path)))
            .collect()
    }

    pub(crate) fn into_router(self) -> Router<State> {
        self.entries
            .into_iter()
            .fold(Router::new(), |r, (path, _, handler)| {
                r.route(path, handler)
            })
    }
}
