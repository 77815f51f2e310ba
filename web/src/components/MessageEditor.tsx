import { useEffect, useId, useRef, useState } from 'react';
import { cleanBody } from '../lib/validate';
import { useEnterSends } from './Composer';

export interface MessageEditorProps {
  initial: string;
  onSave(body: string): void;
  onCancel(): void;
  /** Saving an empty message means deleting it: ask. */
  onDelete(): void;
}

/** Edits a message in place: Enter saves (a newline on touch keyboards), Escape cancels. */
export function MessageEditor({ initial, onSave, onCancel, onDelete }: MessageEditorProps) {
  const [text, setText] = useState(initial);
  const area = useRef<HTMLTextAreaElement>(null);
  const enterSends = useEnterSends();
  const id = useId();

  useEffect(() => {
    const el = area.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);

  useEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 320)}px`;
  }, [text]);

  const save = () => {
    const body = cleanBody(text);
    if (body === '') onDelete();
    else onSave(body);
  };

  return (
    <form
      className="msg-editor"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
      data-testid="message-editor"
    >
      <label htmlFor={id} className="sr-only">
        Edit message
      </label>
      <textarea
        id={id}
        ref={area}
        value={text}
        dir="auto"
        rows={1}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            onCancel();
          } else if (e.key === 'Enter' && enterSends && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            save();
          }
        }}
        data-testid="message-editor-input"
      />
      <div className="msg-editor-bar">
        <span className="msg-editor-hint">{enterSends ? 'Escape to cancel · Enter to save' : ''}</span>
        <button type="button" className="button small secondary" onClick={onCancel} data-testid="edit-cancel">
          Cancel
        </button>
        <button type="submit" className="button small primary" data-testid="edit-save">
          Save
        </button>
      </div>
    </form>
  );
}
