//! Status words as types: `words!` declares an enum whose words are written once, in its
//! declaration, and gives it what a status needs everywhere else — the word (`as_str`, `Display`),
//! the list (`WORDS`, for "must be one of" messages, filters and the API schema), parsing
//! (`parse`), JSON (as the word; an unknown word is refused with the list), and SQL (bound and
//! read as the word, so the `VARCHAR` columns stay as they are; a word in the database the enum
//! does not know is an error, never a silent default).

/// Declares a status enum: `words! { pub enum Status { Draft = "draft", Sent = "sent" } }`.
#[macro_export]
macro_rules! words {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every word, in declaration order.
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word ),+
                }
            }

            pub fn parse(word: &str) -> Option<$name> {
                match word {
                    $( $word => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// A query's optional filter word: none, or one of the words (else a field error).
            pub fn parse_filter(
                field: &str,
                word: Option<&str>,
            ) -> $crate::error::AppResult<Option<$name>> {
                word.map(|w| {
                    $name::parse(w)
                        .ok_or_else(|| $crate::error::AppError::field(field, $name::must_be()))
                })
                .transpose()
            }

            /// "must be one of …", for a field error.
            pub fn must_be() -> String {
                format!("must be one of {}", Self::WORDS.join(", "))
            }

            /// The API schema: a string, one of the words.
            pub fn schema_object() -> utoipa::openapi::Object {
                $crate::http::words_schema(Self::WORDS)
            }

            /// The API schema of an optional one: one of the words, or null.
            pub fn schema_object_or_null() -> utoipa::openapi::Object {
                $crate::http::words_or_null_schema(Self::WORDS)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let word = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&word).ok_or_else(|| {
                    serde::de::Error::custom(format!("{word:?}: {}", $name::must_be()))
                })
            }
        }

        impl sqlx::Type<sqlx::MySql> for $name {
            fn type_info() -> sqlx::mysql::MySqlTypeInfo {
                <str as sqlx::Type<sqlx::MySql>>::type_info()
            }

            fn compatible(ty: &sqlx::mysql::MySqlTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::MySql>>::compatible(ty)
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::MySql> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut Vec<u8>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::MySql>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::MySql> for $name {
            fn decode(
                value: sqlx::mysql::MySqlValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let word = <&str as sqlx::Decode<'r, sqlx::MySql>>::decode(value)?;
                $name::parse(word).ok_or_else(|| {
                    format!("{word:?} is not a {} word", stringify!($name)).into()
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::words! {
        /// A test status.
        pub enum Demo {
            Draft = "draft",
            PendingReview = "pending_review",
        }
    }

    #[test]
    fn the_words_are_written_once_and_read_back() {
        assert_eq!(Demo::WORDS, ["draft", "pending_review"]);
        assert_eq!(Demo::PendingReview.as_str(), "pending_review");
        assert_eq!(Demo::parse("draft"), Some(Demo::Draft));
        assert_eq!(Demo::parse("Draft"), None);
        assert_eq!(Demo::Draft.to_string(), "draft");
        assert_eq!(
            serde_json::to_string(&Demo::PendingReview).unwrap(),
            "\"pending_review\""
        );
        assert_eq!(
            serde_json::from_str::<Demo>("\"draft\"").unwrap(),
            Demo::Draft
        );
        let err = serde_json::from_str::<Demo>("\"nope\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("must be one of draft, pending_review"),
            "{err}"
        );
        assert_eq!(Demo::must_be(), "must be one of draft, pending_review");
        assert_eq!(Demo::parse_filter("status", None).unwrap(), None);
        assert_eq!(
            Demo::parse_filter("status", Some("draft")).unwrap(),
            Some(Demo::Draft)
        );
        assert!(Demo::parse_filter("status", Some("")).is_err());
        assert!(Demo::Draft == "draft");
        let schema = serde_json::to_value(Demo::schema_object()).unwrap();
        assert_eq!(
            schema["enum"],
            serde_json::json!(["draft", "pending_review"])
        );
        let schema = serde_json::to_value(Demo::schema_object_or_null()).unwrap();
        assert_eq!(
            schema["enum"],
            serde_json::json!(["draft", "pending_review", null])
        );
        assert_eq!(schema["type"], serde_json::json!(["string", "null"]));
    }
}
