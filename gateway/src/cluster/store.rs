//! The exchange with Redis: one script call per sync interval replaces this replica's record
//! (with a TTL, so a replica that dies leaves nothing behind), keeps the set of live replicas,
//! and returns every live replica's record — one round trip whatever the request rate, its
//! size growing with deployments and replicas, never with requests.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script};

/// Replaces `<prefix>:replica:<me>` with the given fields (TTL `ARGV[3]` ms), records `me` in
/// the sorted set `<prefix>:replicas` scored by the server's clock, drops members not seen
/// within the TTL, and returns `{name, field, value, …}` per live replica.
const EXCHANGE: &str = r"
local prefix, me, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local key = prefix .. ':replica:' .. me
local members = prefix .. ':replicas'
redis.call('DEL', key)
if #ARGV > 3 then
  redis.call('HSET', key, unpack(ARGV, 4))
  redis.call('PEXPIRE', key, ttl)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', members, now, me)
redis.call('ZREMRANGEBYSCORE', members, '-inf', now - ttl)
redis.call('PEXPIRE', members, ttl)
local out = {}
for _, name in ipairs(redis.call('ZRANGE', members, 0, -1)) do
  local h = redis.call('HGETALL', prefix .. ':replica:' .. name)
  if #h > 0 then
    table.insert(h, 1, name)
    table.insert(out, h)
  end
end
return out
";

/// A connection to the fleet's store.
pub(crate) struct Store {
    client: Client,
    connection: Option<MultiplexedConnection>,
    script: Script,
    timeout: Duration,
}

impl Store {
    /// A store at `url` (not connected yet); `timeout` bounds connecting and each exchange.
    pub fn new(url: &str, timeout: Duration) -> redis::RedisResult<Store> {
        Ok(Store {
            client: Client::open(url)?,
            connection: None,
            script: Script::new(EXCHANGE),
            timeout,
        })
    }

    /// Publishes `fields` as `me`'s record and reads every live replica's: `(name, fields)`.
    /// On any error the connection is dropped and the next call reconnects.
    pub async fn exchange(
        &mut self,
        prefix: &str,
        me: &str,
        ttl: Duration,
        fields: &[(String, String)],
    ) -> redis::RedisResult<Vec<(String, Vec<(String, String)>)>> {
        let result = tokio::time::timeout(self.timeout, self.try_exchange(prefix, me, ttl, fields))
            .await
            .unwrap_or_else(|_| {
                Err(redis::RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the store did not answer within the sync timeout",
                )))
            });
        if result.is_err() {
            self.connection = None;
        }
        result
    }

    async fn try_exchange(
        &mut self,
        prefix: &str,
        me: &str,
        ttl: Duration,
        fields: &[(String, String)],
    ) -> redis::RedisResult<Vec<(String, Vec<(String, String)>)>> {
        if self.connection.is_none() {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(self.timeout))
                .set_response_timeout(Some(self.timeout));
            self.connection = Some(
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            );
        }
        let connection = self.connection.as_mut().ok_or_else(|| {
            redis::RedisError::from(std::io::Error::other("no connection to the store"))
        })?;
        let mut call = self.script.prepare_invoke();
        call.arg(prefix)
            .arg(me)
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        for (field, value) in fields {
            call.arg(field).arg(value);
        }
        let replies: Vec<Vec<String>> = call.invoke_async(connection).await?;
        Ok(replies
            .into_iter()
            .filter_map(|mut reply| {
                if reply.is_empty() {
                    return None;
                }
                let name = reply.remove(0);
                let mut pairs = Vec::with_capacity(reply.len() / 2);
                let mut it = reply.into_iter();
                while let (Some(f), Some(v)) = (it.next(), it.next()) {
                    pairs.push((f, v));
                }
                Some((name, pairs))
            })
            .collect())
    }
}
