//! The oracle's craft: a real casting on the server ([`casting`]), the Zhou Yi's own text as
//! data ([`book`]), and a reading that says which texts govern the answer by a fixed
//! traditional rule ([`reading`]). The model never chooses the hexagram: it is given the
//! governing texts verbatim and told to quote only from them ([`prompt`]); the person's readings
//! form a journal ([`journal`]).

pub mod book;
pub mod casting;
pub mod journal;
pub mod prompt;
pub mod reading;

/// The oracle's routes (`/api/oracle/...`), served by the `chat` function.
pub fn routes() -> crate::http::ApiRoutes {
    journal::routes()
}
