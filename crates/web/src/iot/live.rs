//! The live board: `GET /alarms/events`, server-sent events that say when the open alarms
//! in the caller's scope changed (the board's script then fetches the board again). It
//! watches the database, so a change made through any node reaches every board. Without
//! JavaScript the board refreshes itself every 30 seconds instead.

use crate::kit::error::AppResult;
use crate::kit::{AppState, Caller};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::time::Duration;
use xiaoan_domain::Permission;
use xiaoan_store::iot;

/// How often the stream looks for a change.
const POLL: Duration = Duration::from_secs(2);
/// A stream ends after this long; the browser reconnects on its own (re-checking the
/// session on the way).
const LIFETIME: Duration = Duration::from_secs(600);

/// `GET /alarms/events`: an `alarms` event with the board's stamp at once and whenever it
/// changes.
#[tracing::instrument(skip_all)]
pub async fn events(
    State(st): State<AppState>,
    caller: Caller,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let scope = caller.scope(Permission::AlarmRead);
    let first = iot::board_stamp(&st.db, &scope).await?;
    let until = tokio::time::Instant::now() + LIFETIME;
    let state = (st, scope, None::<String>, first);
    let s = stream::unfold(state, move |(st, scope, sent, current)| async move {
        let mut current = current;
        // Wait for a stamp different from the one sent.
        while sent.as_deref() == Some(current.as_str()) {
            if tokio::time::Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(POLL).await;
            match iot::board_stamp(&st.db, &scope).await {
                Ok(s) => current = s,
                Err(e) => {
                    tracing::warn!(error = %e, "live board: cannot read the alarms");
                    return None;
                }
            }
        }
        let event = Event::default().event("alarms").data(current.clone());
        Some((Ok(event), (st, scope, Some(current.clone()), current)))
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))))
}
