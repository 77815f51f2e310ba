import { useEffect, useId, useRef, useState } from 'react';
import { MAX_TOPIC_CHARS } from '../protocol/types';

export interface RoomTopicProps {
  topic: string;
  /** Members may change it (joined and connected). */
  editable: boolean;
  onSave(topic: string): void;
}

/** The room's topic under its name; members click it to change it. */
export function RoomTopic({ topic, editable, onSave }: RoomTopicProps) {
  const [editing, setEditing] = useState(false);
  const [value, setValue] = useState(topic);
  const input = useRef<HTMLInputElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const id = useId();

  useEffect(() => {
    if (editing) {
      input.current?.focus();
      input.current?.select();
    }
  }, [editing]);

  const stop = () => {
    setEditing(false);
    requestAnimationFrame(() => button.current?.focus());
  };

  if (editing) {
    const tooLong = [...value].length > MAX_TOPIC_CHARS;
    return (
      <form
        className="topic-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (tooLong) return;
          const next = value.trim();
          if (next !== topic) onSave(next);
          stop();
        }}
      >
        <label htmlFor={id} className="sr-only">
          Room topic
        </label>
        <input
          id={id}
          ref={input}
          value={value}
          dir="auto"
          placeholder="What is this room about?"
          onChange={(e) => setValue(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.preventDefault();
              e.stopPropagation();
              stop();
            }
          }}
          onBlur={(e) => {
            if (!e.currentTarget.form?.contains(e.relatedTarget as Node)) stop();
          }}
          aria-invalid={tooLong || undefined}
          data-testid="topic-input"
        />
        <button type="submit" className="button small primary" disabled={tooLong} data-testid="topic-save">
          Save
        </button>
      </form>
    );
  }
  if (!editable) {
    return topic ? (
      <span className="topic" dir="auto" title={topic} data-testid="room-topic">
        {topic}
      </span>
    ) : null;
  }
  return (
    <button
      ref={button}
      type="button"
      className={`topic topic-button${topic ? '' : ' empty'}`}
      title={topic ? `${topic}\n(click to change the topic)` : 'Set a topic for this room'}
      onClick={() => {
        setValue(topic);
        setEditing(true);
      }}
      data-testid="room-topic"
    >
      <span dir="auto">{topic || 'Add a topic'}</span>
    </button>
  );
}
