//! Stable codes: the one mechanism by which a plain enum gets the English code it is known by
//! in the API, the database, plan files and translation keys.
//!
//! Declare such an enum with [`codes!`](crate::codes), writing each code once:
//!
//! ```
//! xiaoan_domain::codes! {
//!     /// How loud a bell is.
//!     #[derive(PartialOrd, Ord)]
//!     pub enum Bell {
//!         /// Barely heard.
//!         Soft => "soft",
//!         Loud => "loud",
//!     }
//! }
//! use xiaoan_domain::code::Code;
//! assert_eq!(Bell::Loud.code(), "loud");
//! assert_eq!(Bell::from_code("soft"), Some(Bell::Soft));
//! assert_eq!("loud".parse::<Bell>().unwrap(), Bell::Loud);
//! assert_eq!(Bell::try_from(String::from("shrill")).unwrap_err().to_string(), "unknown Bell code `shrill`");
//! assert_eq!(serde_json::to_string(&Bell::Soft).unwrap(), "\"soft\"");
//! assert_eq!(<Bell as Code>::ALL, &[Bell::Soft, Bell::Loud]);
//! assert_eq!(Bell::Soft.to_string(), "soft");
//! ```
//!
//! The macro generates the enum (deriving `Debug, Clone, Copy, PartialEq, Eq, Hash`; add more
//! with a `#[derive(..)]` of your own), the inherent `ALL`, `CODES`, `code()` and
//! `from_code()`, the [`Code`] impl, serde (the code as a string), `FromStr`,
//! `TryFrom<String>` (so `#[sqlx(try_from = "String")]` decodes a TEXT column) and `Display`.
//! Codes are checked to be distinct at compile time.
//!
//! The enum's [`Code::KIND`] (how an unknown code is reported, and its OpenAPI schema name)
//! is its name, or the one given by `enum Status as HazardStatus { .. }` where two enums
//! share a name.
//!
//! `ALL` is an array `[Self; N]` in declaration order (which also decides a derived `Ord`).
//! An enum declared `enum Name: order(B, A, ..) { .. }` lists `ALL` in that order instead, and
//! one declared `enum Name: pairs { .. }` has `ALL: [(Self, &'static str); N]`, each value with
//! its code. [`Code::ALL`] always holds the values in the order of the inherent `ALL`.

/// A plain enum known by stable codes.
pub trait Code: Sized + Copy + Eq + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];

    /// The enum's name (`Category`): what an unknown code is reported as, so that an edge can
    /// answer with the error code it gives that kind.
    const KIND: &'static str;

    /// The stable code of the value.
    fn code(&self) -> &'static str;

    /// Parses a stable code.
    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.code() == code)
    }
}

/// The codes of `values`, in order: what a query binds for `status IN (..)`.
pub fn codes_of<T: Code>(values: &[T]) -> Vec<&'static str> {
    values.iter().map(Code::code).collect()
}

/// A string that is not the code of any value of the enum `kind`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} code `{code}`")]
pub struct UnknownCode {
    pub kind: &'static str,
    pub code: String,
}

/// The message serde reports for a string that is not one of `codes` of the enum `kind`:
/// ``unknown Grade code `minor`, expected `general` or `major` ``. An edge recognises it with
/// [`unknown_kind`] and answers with its own error code for that kind.
#[doc(hidden)]
pub fn unknown_message(kind: &str, code: &str, codes: &[&str]) -> String {
    let quoted: Vec<String> = codes.iter().map(|c| format!("`{c}`")).collect();
    let expected = match quoted.as_slice() {
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        _ => format!("one of {}", quoted.join(", ")),
    };
    format!("unknown {kind} code `{code}`, expected {expected}")
}

/// The enum kind named by a message of [`unknown_message`], if it is one.
pub fn unknown_kind(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown ")?;
    let (kind, _) = rest.split_once(" code `")?;
    (!kind.is_empty() && kind.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(kind)
}

/// Whether every code is distinct; evaluated at compile time by [`codes!`](crate::codes).
#[doc(hidden)]
pub const fn distinct(codes: &[&str]) -> bool {
    let mut i = 0;
    while i < codes.len() {
        let mut j = i + 1;
        while j < codes.len() {
            if same(codes[i].as_bytes(), codes[j].as_bytes()) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares a plain enum whose values are known by stable codes; see [`crate::code`].
#[macro_export]
macro_rules! codes {
    (@enum [$($attrs:tt)*] $vis:vis $name:ident $kind:ident [$($shape:tt)*] {
        $( $(#[$vm:meta])* $variant:ident => $code:literal ),+ $(,)?
    }) => {
        $($attrs)*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vm])* $variant ),+
        }

        const _: () = ::core::assert!(
            $crate::code::distinct(&[$($code),+]),
            ::core::concat!("duplicate code in ", ::core::stringify!($name))
        );

        impl $name {
            $crate::__codes_all!($name [$($shape)*] { $($variant => $code),+ });

            /// Every code, in declaration order.
            pub const CODES: &'static [&'static str] = &[$($code),+];

            /// The stable code used in the API, the database and translation keys.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Parses a stable code.
            pub fn from_code(code: &str) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl $crate::code::Code for $name {
            const ALL: &'static [Self] = &$name::__VALUES;
            const KIND: &'static str = ::core::stringify!($kind);

            fn code(&self) -> &'static str {
                $name::code(*self)
            }

            fn from_code(code: &str) -> Option<Self> {
                $name::from_code(code)
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str($name::code(*self))
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::code::UnknownCode;

            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                $name::from_code(s).ok_or_else(|| $crate::code::UnknownCode {
                    kind: ::core::stringify!($name),
                    code: s.into(),
                })
            }
        }

        impl ::core::convert::TryFrom<::std::string::String> for $name {
            type Error = $crate::code::UnknownCode;

            fn try_from(s: ::std::string::String) -> ::core::result::Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_str($name::code(*self))
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                struct V;
                impl $crate::__private::serde::de::Visitor<'_> for V {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(::core::concat!("a ", ::core::stringify!($name), " code"))
                    }

                    fn visit_str<E: $crate::__private::serde::de::Error>(
                        self,
                        v: &str,
                    ) -> ::core::result::Result<$name, E> {
                        $name::from_code(v).ok_or_else(|| {
                            E::custom($crate::code::unknown_message(
                                ::core::stringify!($kind),
                                v,
                                $name::CODES,
                            ))
                        })
                    }
                }
                deserializer.deserialize_str(V)
            }
        }

        $crate::__codes_schema!($name $kind);
    };
    ($(#[$m:meta])* $vis:vis enum $name:ident as $kind:ident $($rest:tt)+) => {
        $crate::codes!(@shape [$(#[$m])*] $vis $name $kind $($rest)+);
    };
    ($(#[$m:meta])* $vis:vis enum $name:ident $($rest:tt)+) => {
        $crate::codes!(@shape [$(#[$m])*] $vis $name $name $($rest)+);
    };
    (@shape [$($attrs:tt)*] $vis:vis $name:ident $kind:ident : pairs { $($body:tt)+ }) => {
        $crate::codes!(@enum [$($attrs)*] $vis $name $kind [pairs] { $($body)+ });
    };
    (@shape [$($attrs:tt)*] $vis:vis $name:ident $kind:ident : order($($o:ident),+ $(,)?) { $($body:tt)+ }) => {
        $crate::codes!(@enum [$($attrs)*] $vis $name $kind [order $($o),+] { $($body)+ });
    };
    (@shape [$($attrs:tt)*] $vis:vis $name:ident $kind:ident { $($body:tt)+ }) => {
        $crate::codes!(@enum [$($attrs)*] $vis $name $kind [] { $($body)+ });
    };
}

/// With the `openapi` feature, a code enum is a string schema listing its codes, so that every
/// OpenAPI field of that type names its allowed values.
#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __codes_schema {
    ($name:ident $kind:ident) => {
        impl $crate::__private::utoipa::PartialSchema for $name {
            fn schema() -> $crate::__private::utoipa::openapi::RefOr<
                $crate::__private::utoipa::openapi::schema::Schema,
            > {
                $crate::__private::utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type($crate::__private::utoipa::openapi::schema::Type::String)
                    .enum_values(Some($name::CODES.iter().copied()))
                    .into()
            }
        }

        impl $crate::__private::utoipa::ToSchema for $name {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(::core::stringify!($kind))
            }
        }
    };
}

/// Without the `openapi` feature, code enums carry no schema.
#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __codes_schema {
    ($name:ident $kind:ident) => {};
}

/// The inherent `ALL` of a [`codes!`](crate::codes) enum, and the values behind
/// [`Code::ALL`]: in declaration order, in a given `order`, or as `pairs` of value and code.
#[doc(hidden)]
#[macro_export]
macro_rules! __codes_all {
    ($name:ident [] { $($variant:ident => $code:literal),+ }) => {
        /// Every value, in display order.
        pub const ALL: [$name; [$($code),+].len()] = [$($name::$variant),+];
        const __VALUES: [$name; [$($code),+].len()] = $name::ALL;
    };
    ($name:ident [order $($o:ident),+] { $($variant:ident => $code:literal),+ }) => {
        /// Every value, in display order.
        pub const ALL: [$name; [$($code),+].len()] = [$($name::$o),+];
        const __VALUES: [$name; [$($code),+].len()] = $name::ALL;
    };
    ($name:ident [pairs] { $($variant:ident => $code:literal),+ }) => {
        /// Every value with its code, in display order.
        pub const ALL: [($name, &'static str); [$($code),+].len()] =
            [$(($name::$variant, $code)),+];
        const __VALUES: [$name; [$($code),+].len()] = [$($name::$variant),+];
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::DayKind;
    use crate::hazard::{Category, Escalation, Grade, Source, Status};
    use crate::password::PasswordError;
    use crate::plan::{Fact, FieldType, Unit};
    use crate::{OrgKind, Role, SchoolType, compliance};
    use std::collections::HashSet;

    fn check<T>()
    where
        T: Code + std::fmt::Debug + std::str::FromStr + serde::Serialize,
        T: for<'de> serde::Deserialize<'de> + TryFrom<String>,
    {
        let mut seen = HashSet::new();
        assert!(!T::ALL.is_empty());
        for v in T::ALL {
            let c = v.code();
            assert!(seen.insert(c), "duplicate code {c}");
            assert!(
                c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{c} is not snake_case"
            );
            assert_eq!(T::from_code(c), Some(*v));
            assert!(matches!(c.parse::<T>(), Ok(p) if p == *v));
            assert!(matches!(T::try_from(c.to_string()), Ok(p) if p == *v));
            let json = serde_json::to_string(v).unwrap();
            assert_eq!(json, format!("\"{c}\""));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), *v);
        }
        assert_eq!(T::from_code("no_such_code"), None);
        assert!("no_such_code".parse::<T>().is_err());
        assert!(serde_json::from_str::<T>("\"no_such_code\"").is_err());
    }

    #[test]
    fn every_enum_round_trips_with_unique_codes() {
        check::<Role>();
        check::<OrgKind>();
        check::<SchoolType>();
        check::<DayKind>();
        check::<compliance::Status>();
        check::<FieldType>();
        check::<Unit>();
        check::<Fact>();
        check::<PasswordError>();
        check::<Category>();
        check::<Grade>();
        check::<Source>();
        check::<Status>();
        check::<Escalation>();
    }

    #[test]
    fn unknown_codes_name_the_enum_and_list_the_codes() {
        let e = "rumour".parse::<Source>().unwrap_err();
        assert_eq!(e.to_string(), "unknown Source code `rumour`");
        let e = serde_json::from_str::<Grade>("\"minor\"").unwrap_err();
        assert!(
            e.to_string().contains("expected `general` or `major`"),
            "{e}"
        );
        assert_eq!(unknown_kind(&e.to_string()), Some("Grade"));
        let e = serde_json::from_str::<Source>("\"rumour\"").unwrap_err();
        assert!(
            e.to_string().contains("expected one of `self_inspection`"),
            "{e}"
        );
        assert_eq!(unknown_kind(&e.to_string()), Some("Source"));
        assert_eq!(unknown_kind("unknown field `x`"), None);
        assert_eq!(unknown_kind("unknown variant `x`, expected `a`"), None);
    }

    #[test]
    fn distinct_codes() {
        assert!(distinct(&["a", "b", "ab"]));
        assert!(!distinct(&["a", "b", "a"]));
    }
}
